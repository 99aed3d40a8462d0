"""The base of every object that owns a C handle.

A handle is freed by close(), by leaving a ``with`` block, or when the
object is collected; __del__ never raises.  Every live handle is counted by
type, so that the tests can prove that nothing leaks (live_handles()).
"""

import collections
import threading

from . import _errors

_live = collections.Counter()
_live_lock = threading.Lock()


def live_handles():
    """How many C handles of each kind this process holds open, e.g.
    {"Frame": 2}.  Kinds with none are left out."""
    with _live_lock:
        return {k: v for k, v in _live.items() if v}


class Handle:
    """Owns one C handle: `_ptr`, freed by `_free` (a herd_x_free)."""

    _free = None   # the C destructor, set by subclasses
    _kind = None   # the name counted by live_handles()
    _ptr = None

    def _adopt(self, ptr):
        self._ptr = ptr
        with _live_lock:
            _live[self._kind or type(self).__name__] += 1

    @property
    def closed(self):
        return not self._ptr

    def _handle(self):
        """The C pointer; a closed object is refused naming its kind."""
        if not self._ptr:
            raise _errors.InvalidError("this herd %s is closed; it cannot be used after "
                                       "close() or its with block"
                                       % (self._kind or type(self).__name__), -1,
                                       "HERD_EINVAL")
        return self._ptr

    def _release(self):
        """Called before the C handle is freed (subclasses drop what the
        handle borrowed)."""

    def close(self):
        """Free the C handle now.  Closing twice is allowed."""
        ptr, self._ptr = self._ptr, None
        if ptr:
            try:
                type(self)._free(ptr)
            finally:
                self._release()
                with _live_lock:
                    _live[self._kind or type(self).__name__] -= 1

    def __enter__(self):
        self._handle()
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        try:
            self.close()
        except BaseException:  # never raise from a finalizer (interpreter exit included)
            pass
