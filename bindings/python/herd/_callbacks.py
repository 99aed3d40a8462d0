"""Log records to Python's logging, progress to tqdm, Ctrl-C to cancel.

herd calls both callbacks on the thread that called it, never on a worker
(docs/api.md, "Callbacks and threads"), so they run Python as any code on
that thread does.  Neither lets an exception cross into C: a KeyboardInterrupt
raised while herd works is kept, the progress callback then asks herd to
cancel, and the interrupt is raised again when the call returns.
"""

import logging
import threading

from ._lib import (LOG_DEBUG, LOG_ERROR, LOG_FN, LOG_INFO, LOG_WARN, PROGRESS_FN, covers, dec,
                   lib)

logger = logging.getLogger("herd")

_TO_LOGGING = {LOG_ERROR: logging.ERROR, LOG_WARN: logging.WARNING, LOG_INFO: logging.INFO,
               LOG_DEBUG: logging.DEBUG}

_state = threading.local()   # .interrupt: a KeyboardInterrupt caught in a callback
_log_lock = threading.Lock()
_log_level = None            # the max_level given to herd_log_set, None: not set


def _keep_interrupt(exc):
    _state.interrupt = exc


def pending_interrupt():
    return getattr(_state, "interrupt", None)


def raise_pending_interrupt():
    exc = getattr(_state, "interrupt", None)
    if exc is not None:
        _state.interrupt = None
        raise exc


@LOG_FN
def _on_record(record_p, _user):
    try:
        rec = record_p.contents
        level = _TO_LOGGING.get(rec.level, logging.INFO)
        if not logger.isEnabledFor(level):
            return
        extra = {"herd_phase": dec(rec.phase), "herd_group": dec(rec.group),
                 "herd_family": dec(rec.family), "herd_run_id": dec(rec.run_id),
                 "herd_elapsed_s": rec.elapsed_s if covers(rec, "elapsed_s") else None,
                 "herd_source": dec(rec.source) if covers(rec, "source") else "herd"}
        message = dec(rec.message)
        if extra["herd_group"] and extra["herd_group"] not in message:
            message = "%s (group %s)" % (message, extra["herd_group"])
        logger.log(level, "%s", message, extra=extra)
    except KeyboardInterrupt as e:
        _keep_interrupt(e)
    except BaseException:  # a handler's failure must not cross into C
        pass


def _wanted_level():
    effective = logger.getEffectiveLevel()
    if effective <= logging.DEBUG:
        return LOG_DEBUG
    if effective <= logging.INFO:
        return LOG_INFO
    if effective <= logging.WARNING:
        return LOG_WARN
    return LOG_ERROR


def sync_log_level():
    """Tell herd the most detailed level the "herd" logger wants now, so
    that records nobody reads are never formatted.  Called before every
    operation; herd_log_set runs only when the level changed."""
    global _log_level
    level = _wanted_level()
    if level == _log_level:
        return
    with _log_lock:
        if level != _log_level:
            if lib.herd_log_set(_on_record, None, level) == 0:
                _log_level = level


def _tqdm():
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm


def progress_dict(p):
    d = {"phase": dec(p.phase) if covers(p, "phase") else None,
         "phase_index": p.phase_index if covers(p, "phase_index") else 0,
         "phase_total": p.phase_total if covers(p, "phase_total") else 0}
    for f in ("groups_total", "groups_done", "groups_failed", "groups_skipped", "rows_total",
              "rows_done", "elapsed_s", "bytes_total", "bytes_done"):
        d[f] = getattr(p, f) if covers(p, f) else 0
    return d


class Progress:
    """The progress callback of one call.

    `show`: None (default) shows tqdm bars when tqdm is installed and
    stderr is a terminal, True always (with tqdm), False never; a callable
    receives a dict per report (phase, groups_done, groups_total...) and
    cancels the call by returning a true value.
    """

    def __init__(self, show=None, what="herd"):
        self.user = show if callable(show) else None
        tqdm = _tqdm() if show is not False and not callable(show) else None
        self.tqdm = tqdm
        self.disable = None if show is None else False
        self.what = what
        self.bar = None
        self.phase = None
        self.c_callback = PROGRESS_FN(self._called)

    def _called(self, p_ptr, _user):
        try:
            p = p_ptr.contents
            d = progress_dict(p)
            if self.tqdm is not None:
                self._show(d)
            if self.user is not None and self.user(d):
                return 1
            return 1 if pending_interrupt() else 0
        except KeyboardInterrupt as e:
            _keep_interrupt(e)
            return 1
        except BaseException as e:  # the user's callback failed: cancel, re-raise after
            self.error = e
            return 1

    error = None

    def _show(self, d):
        phase = d["phase"] or "work"
        by_bytes = d["bytes_total"] and not d["groups_total"]
        if phase != self.phase:
            self.close()
            self.phase = phase
            label = "%s %s" % (self.what, phase)
            if d["phase_total"] > 1:
                label += " (%d/%d)" % (d["phase_index"], d["phase_total"])
            self.bar = self.tqdm(total=(d["bytes_total"] if by_bytes else d["groups_total"])
                                 or None, desc=label, unit="B" if by_bytes else "group",
                                 unit_scale=bool(by_bytes), disable=self.disable, leave=False)
        bar = self.bar
        total = d["bytes_total"] if by_bytes else d["groups_total"]
        done = d["bytes_done"] if by_bytes else d["groups_done"]
        if total and bar.total != total:
            bar.total = total
        bar.n = done
        if d["groups_failed"] or d["groups_skipped"]:
            bar.set_postfix(failed=d["groups_failed"], skipped=d["groups_skipped"],
                            refresh=False)
        bar.refresh()

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def finish(self):
        """After the C call: close the bar, re-raise a caught interrupt or
        the user's callback's exception."""
        self.close()
        raise_pending_interrupt()
        if self.error is not None:
            e, self.error = self.error, None
            raise e
