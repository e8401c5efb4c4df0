"""Kill points for the process faults (tests/faults/test_process_kills.py): with this folder on PYTHONPATH
and ``TWEETLAKE_TEST_KILL_AT=<module>:<function or Class.method>:<n>`` set, the n-th call of that function,
in any process of the run (the CLI, dbt's subprocess), SIGKILLs the whole process group just before it
runs: what a machine that dies, an OOM kill or ``kill -9`` of the job does at that point. With
``TWEETLAKE_TEST_REMOVE_AT_KILL_POINT=<path>`` it removes that file there instead, and the run goes on.

Python imports ``sitecustomize`` at start-up; the function is wrapped the moment its module is imported,
so every ``from module import name`` sees the wrapper. Self-contained (no import of the project): it runs
before anything else in the process.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import signal
import sys
from typing import Any

_SPEC = os.environ.get("TWEETLAKE_TEST_KILL_AT", "")
_REMOVE = os.environ.get("TWEETLAKE_TEST_REMOVE_AT_KILL_POINT", "")  # instead of the kill
# Under Airflow (tests/faults/test_airflow_faults.py) every task process arms the point: with _ONCE only the
# first process to reach it is killed (the mark file says it happened), and every process forked after the
# kill (the retry's task runner) works in _AFTER_KILL_WORK_DIR, as a retry on another worker would.
_ONCE = os.environ.get("TWEETLAKE_TEST_KILL_ONCE", "") == "1"
_AFTER_KILL_WORK_DIR = os.environ.get("TWEETLAKE_TEST_WORK_DIR_AFTER_KILL", "")


def _after_fork() -> None:
    mark = os.environ.get("TWEETLAKE_TEST_KILL_MARK")
    if _AFTER_KILL_WORK_DIR and mark and os.path.exists(mark):
        os.environ["TWEETLAKE_WORK_DIR"] = _AFTER_KILL_WORK_DIR


def _arm(module: Any, attribute: str, nth: int) -> None:
    owner, _, name = attribute.rpartition(".")
    holder = getattr(module, owner) if owner else module
    original = getattr(holder, name)
    calls = [0]

    def killed_at_call(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] == nth and _REMOVE:  # another fault at that point: a file removed under the run's feet
            os.remove(_REMOVE)
        elif calls[0] == nth:
            mark = os.environ.get("TWEETLAKE_TEST_KILL_MARK")
            if _ONCE and mark and os.path.exists(mark):
                return original(*args, **kwargs)
            if mark:  # the test's proof that this point, not another failure, killed the run
                with open(mark, "w") as f:
                    f.write(_SPEC)
            os.killpg(os.getpgid(0), signal.SIGKILL)
        return original(*args, **kwargs)

    setattr(holder, name, killed_at_call)


class _ArmOnImport(importlib.abc.MetaPathFinder):
    def __init__(self, module: str, attribute: str, nth: int) -> None:
        self.module, self.attribute, self.nth = module, attribute, nth

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != self.module:
            return None
        sys.meta_path.remove(self)  # find the real spec, once
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        run_module = loader.exec_module

        def exec_module(module: Any) -> None:
            run_module(module)
            _arm(module, self.attribute, self.nth)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


if _AFTER_KILL_WORK_DIR:
    os.register_at_fork(after_in_child=_after_fork)
if _SPEC:
    _module, _attribute, _nth = _SPEC.split(":")
    sys.meta_path.insert(0, _ArmOnImport(_module, _attribute, int(_nth)))
