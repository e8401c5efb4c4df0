"""The bottom layer: settings, lake storage, the writer lock, and the rules every layer shares.

Nothing here imports another tweetlake package (``make lint`` checks it with import-linter).
"""
