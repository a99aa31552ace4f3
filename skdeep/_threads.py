"""How many CPU threads torch uses for a block of work: the CPU share, or one thread where it runs faster.

Two rules choose. Small dense networks run on one thread: a second thread's
wake-up and wait cost more than the half of the work it takes
(:data:`SMALL_WORK`). Larger work runs on the process's CPU share, unless
timing says otherwise: when another program's threads compete for the same
cores (a second notebook, a test run, a documentation build), torch's OpenMP
workers spin waiting for each other, and a step on two threads took 30 to
100 times as long as on one. So a training call on the CPU times its batches
(:class:`BatchThreads`): the first ones in turns on the CPU share and on one
thread, then on the faster, looking again when batches on the share slow
down. A finding of one thread holds for the whole process
(:class:`OneThreadFinding`) until it is due for another look. Predictions
use what the module's last training found. torch's thread setting is the
caller's again after each call.

A thread count the user chose is never second-guessed by timing: with
``OMP_NUM_THREADS`` set (as joblib's and loky's workers have it, to their
share of the cores) or ``torch.set_num_threads`` called after skdeep's
import, training runs on that count (within the CPU share and the rule for
small work), which also makes runs of a large network repeat bit for bit on
a shared machine (the thread count can change the last bits of some
kernels' sums).
"""

import os
import statistics
import threading
import time
import weakref
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache

import torch
from joblib import cpu_count
from torch import nn

#: multiply-adds per batch below which one thread is faster than two: the
#: second thread's wake-up and wait cost more than the half of the work it takes,
#: and it spins on a core that other processes may want
SMALL_WORK = 2_000_000

#: layers whose work per row is negligible beside a Linear's
_LIGHT_LAYERS = (nn.Embedding, nn.EmbeddingBag, nn.Identity, nn.Dropout, nn.Flatten, nn.Unflatten,
                 nn.BatchNorm1d, nn.LayerNorm)

_dense_work_cache = weakref.WeakKeyDictionary()
#: the threads that the last training of each module found faster: its predictions' threads
_measured_threads = weakref.WeakKeyDictionary()
#: torch's thread count outside skdeep's calls, inside :func:`torch_threads`
_callers_threads = ContextVar("callers_threads", default=None)
#: torch's thread count when skdeep was imported: another one later was the user's choice
_THREADS_AT_IMPORT = torch.get_num_threads()


@cache
def cpu_share():
    """The CPUs this process may use (its cgroup quota and affinity), read once.

    joblib's ``cpu_count`` reads the cgroup files at each call, 50 µs that a
    one-row prediction would pay every time.
    """
    return cpu_count()


def dense_work(module):
    """Multiply-adds per input row of ``module``, or None where they do not follow from its weights.

    Known for modules made of dense layers and activations only (skdeep's
    MLPs, for instance); a convolution or a recurrence reuses its weights at
    every position of the input, so its work is unknown until it runs.

    Examples
    --------
    >>> from torch import nn
    >>> from skdeep._threads import dense_work
    >>> dense_work(nn.Sequential(nn.Linear(30, 100), nn.ReLU(), nn.Linear(100, 2)))
    3200
    >>> dense_work(nn.Conv2d(1, 8, 3)) is None
    True
    """
    try:
        return _dense_work_cache[module]
    except KeyError:
        pass
    work = 0
    for layer in module.modules():
        if isinstance(layer, nn.Linear) and not isinstance(layer.weight, nn.parameter.UninitializedParameter):
            work += layer.weight.numel()
        elif not (isinstance(layer, _LIGHT_LAYERS) or _is_activation(layer) or _is_container(layer)):
            work = None  # (a lazy Linear before its first call is of unknown size too)
            break
    _dense_work_cache[module] = work
    return work


def _is_container(layer):
    return next(layer.children(), None) is not None and next(layer.parameters(recurse=False), None) is None


def _is_activation(layer):
    return type(layer).__module__ == "torch.nn.modules.activation" and not isinstance(layer, nn.MultiheadAttention)


def threads_for(module, rows, *, measured=True):
    """The number of threads torch should use to run ``module`` on batches of ``rows`` rows.

    At most the process's CPU share (torch starts one thread per core it
    sees, ignoring a container's CPU quota and, on some builds, the process's
    CPU affinity: 64 threads contending for 2 CPUs wait on each other) and
    the caller's own setting, one thread for small dense networks (see
    :data:`SMALL_WORK`), and, with ``measured``, no more than the module's
    last training found faster, or one thread while the process's
    :class:`OneThreadFinding` stands.
    """
    callers = _callers_threads.get()
    threads = min(torch.get_num_threads() if callers is None else callers, cpu_share())
    if threads > 1:
        work = dense_work(module)
        if work is not None and work * rows < SMALL_WORK:
            return 1
        if measured:
            if one_thread_finding.standing and not one_thread_finding.look_due() and not threads_chosen_by_user():
                return 1  # (the call's work outside its batches too: other programs compete for the cores)
            return min(threads, _measured_threads.get(module, threads))
    return threads


@contextmanager
def torch_threads(module, rows):
    """Run the block with torch on :func:`threads_for` threads; restore the caller's setting after.

    Nothing changes where torch's count already fits (joblib's workers, for
    instance, start with ``OMP_NUM_THREADS`` set to their share). Inside the
    block, :class:`BatchThreads` may change the count; the caller's comes back
    all the same.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from skdeep._threads import torch_threads
    >>> before = torch.get_num_threads()
    >>> with torch_threads(nn.Linear(30, 2), rows=200):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    before = torch.get_num_threads()
    threads = threads_for(module, rows)
    token = _callers_threads.set(before if _callers_threads.get() is None else _callers_threads.get())
    if threads != before:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        _callers_threads.reset(token)
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def threads_chosen_by_user():
    """Whether the caller chose torch's thread count: ``OMP_NUM_THREADS``, or ``torch.set_num_threads`` since import."""
    callers = _callers_threads.get()
    current = torch.get_num_threads() if callers is None else callers
    return "OMP_NUM_THREADS" in os.environ or current != _THREADS_AT_IMPORT


class OneThreadFinding:
    """The process's standing finding that one thread trains faster than the CPU share, which all its fits share.

    Another program's threads compete for the machine's cores, not for one
    fit's: a fit that starts while a finding stands trains on one thread at
    once, without paying for a look of its own (beside another program, a
    single batch on the CPU share took as long as 30 to 100 on one thread).
    The CPU share is looked at again once the process has trained on one
    thread :attr:`RELOOK` times as long as the last look at it cost, so the
    looks cost at most about a tenth of the training time, and a machine that
    has gone quiet is found again.

    Examples
    --------
    >>> from skdeep._threads import OneThreadFinding
    >>> finding = OneThreadFinding()
    >>> finding.look_due()
    True
    >>> finding.stand(look_seconds=0.2)
    >>> finding.ran_on_one_thread(1.0)
    >>> finding.look_due()
    False
    >>> finding.ran_on_one_thread(1.0)
    >>> finding.look_due()
    True
    """

    RELOOK = 10

    def __init__(self):
        self._lock = threading.Lock()
        self.clear()

    def stand(self, look_seconds):
        """Record that a look found one thread faster; ``look_seconds`` sets when the next look is due.

        That is the time the look spent on the CPU share, or, where it did
        not try the share (no core to spare), its block on one thread.
        """
        with self._lock:
            self.standing, self._look_seconds, self._one_thread_seconds = True, look_seconds, 0.0

    def clear(self):
        """Record that a look found the CPU share faster (or that none has been made)."""
        with self._lock:
            self.standing, self._look_seconds, self._one_thread_seconds = False, 0.0, 0.0

    def ran_on_one_thread(self, seconds):
        """Count ``seconds`` of training on one thread since the finding."""
        with self._lock:
            self._one_thread_seconds += seconds

    def look_due(self):
        """Whether a training call should look at the CPU share: no finding stands, or it is due for a look."""
        with self._lock:
            return not self.standing or self._one_thread_seconds >= self.RELOOK * self._look_seconds


#: the CPU time of the calling thread: with one torch thread, a step's whole work runs on it
thread_cpu_time = time.thread_time
#: whether that clock is fine enough to tell a batch's CPU time (Windows counts in steps of about 16 ms)
FINE_CPU_CLOCK = time.get_clock_info("thread_time").resolution <= 1e-4

#: the process's finding, shared by all its training calls
one_thread_finding = OneThreadFinding()


class BatchThreads:
    """Run a training call's batches on the CPU share or on one thread, whichever is faster now.

    A look runs a block of batches on one thread, then a block on the CPU
    share; the first batch of each block is not counted (it pays the switch,
    and at the start of a fit one-time costs), the others are timed per row,
    and the CPU share stays unless one thread's mean is lower by more than
    :attr:`MARGIN` (timings on a busy machine are noisy, and on a quiet one
    the share is the faster by a fifth or more). A batch on the CPU share over
    :attr:`ABORT` times slower than one thread's mean ends the look at once:
    beside another program, a batch on two threads can take 30 to 100 times
    as long, and the look must not cost more than it saves. Nor is the share
    tried where the block on one thread had less than :attr:`ONE_CORE` of a
    core (its CPU time against its wall time, where the clock of a thread's
    CPU time is fine enough): with no core to spare for one thread, a second
    can only wait. (A batch that waits for its data, such as a dask block
    being computed, counts as waiting for a core too.)

    A look that finds one thread faster leaves a finding that the process's
    other training calls share (:class:`OneThreadFinding`): they start on one
    thread with no look, until the finding is due for another. On the CPU
    share, a look starts again when the last :attr:`WINDOW` batches ran
    :attr:`SLOWER` times slower than it was timed (another program started).
    On one thread, slower batches are no reason to look: more contention
    makes the share slower still. The choice is kept for the module's
    predictions.

    Parameters
    ----------
    module : torch.nn.Module
        The network being trained.
    rows : int
        Rows per training batch.

    Examples
    --------
    >>> import torch
    >>> from skdeep._threads import BatchThreads
    >>> threads = BatchThreads(torch.nn.Linear(1000, 1000), rows=256)
    >>> threads.candidates[-1]
    1
    """

    BLOCK = 4
    MARGIN = 0.1
    ABORT = 2.0
    WINDOW = 8
    SLOWER = 1.5
    ONE_CORE = 0.8

    def __init__(self, module, rows):
        self.module = module
        share = threads_for(module, rows, measured=False)
        self.candidates = (share, 1) if share > 1 and not threads_chosen_by_user() else (share,)
        self.choice = min(share, _measured_threads.get(module, share))
        self._recent = []
        self._schedule = []  # (threads, whether timed) of the batches of a look in progress
        self._timings = {}
        self._share_seconds = 0.0  # the look's time on the CPU share
        if not self.tuning:
            return
        if one_thread_finding.look_due():
            self._start_look()
        else:
            self.choice = 1
            _measured_threads[module] = 1

    @property
    def tuning(self):
        """Whether there is a choice to make (a CPU share of more than one thread, and none chosen by the user)."""
        return len(self.candidates) > 1

    def steps(self, steps):
        """Yield from ``steps`` (pairs of a batch and its step's result), each step on the threads chosen for it."""
        steps = iter(steps)
        while True:
            threads = self._schedule[0][0] if self._schedule else self.choice
            if torch.get_num_threads() != threads:
                torch.set_num_threads(threads)
            start, start_cpu = time.perf_counter(), thread_cpu_time()
            try:
                batch, step = next(steps)
            except StopIteration:
                return
            seconds, cpu_seconds = time.perf_counter() - start, thread_cpu_time() - start_cpu
            self._record(threads, seconds, cpu_seconds, max(batch[0].shape[0], 1))
            yield batch, step

    def _start_look(self):
        share = self.candidates[0]
        self._schedule = [(1, False), *[(1, True)] * self.BLOCK, (share, False), *[(share, True)] * self.BLOCK]
        self._timings = {threads: [] for threads in self.candidates}
        self._one_thread_seconds = self._one_thread_cpu_seconds = self._share_seconds = 0.0
        self._recent = []

    def _record(self, threads, seconds, cpu_seconds, rows):
        if not self.tuning:
            return
        per_row = seconds / rows
        if self._schedule:
            self._record_look(threads, seconds, cpu_seconds, per_row)
        elif self.choice == 1:
            one_thread_finding.ran_on_one_thread(seconds)
            if one_thread_finding.look_due():
                self._start_look()
        else:
            self._recent = [*self._recent[1 - self.WINDOW:], per_row]
            if len(self._recent) == self.WINDOW and statistics.fmean(self._recent) > self.SLOWER * self._reference:
                self._start_look()

    def _record_look(self, threads, seconds, cpu_seconds, per_row):
        _, timed = self._schedule.pop(0)
        if timed:
            self._timings[threads].append(per_row)
        one = self._timings[1]
        if threads == 1:
            if timed:
                self._one_thread_seconds += seconds
                self._one_thread_cpu_seconds += cpu_seconds
            starved = self._one_thread_cpu_seconds < self.ONE_CORE * self._one_thread_seconds
            if self._schedule[0][0] != 1 and starved and FINE_CPU_CLOCK:
                self._choose(1, look_seconds=self._one_thread_seconds)  # no core to spare for a second thread
            return
        self._share_seconds += seconds
        if one and per_row > self.ABORT * statistics.fmean(one):
            self._choose(1, look_seconds=self._share_seconds)
        elif not self._schedule:
            share = self.candidates[0]
            faster = statistics.fmean(one) * (1 + self.MARGIN) < statistics.fmean(self._timings[share])
            self._choose(1 if faster else share, look_seconds=self._share_seconds)

    def _choose(self, choice, look_seconds):
        self.choice, self._reference = choice, statistics.fmean(self._timings[choice])
        self._schedule = []
        _measured_threads[self.module] = choice
        if choice == 1:
            one_thread_finding.stand(look_seconds)
        else:
            one_thread_finding.clear()
