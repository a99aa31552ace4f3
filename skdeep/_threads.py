"""Keep torch's CPU threads within the CPUs this process may use."""

from contextlib import contextmanager

import torch
from joblib import cpu_count


@contextmanager
def threads_within_cpu_share():
    """Run torch on at most as many threads as the process has CPUs.

    torch starts one intra-op thread per core it sees, ignoring a container's
    CPU quota (cgroups) and, on some builds, the process's CPU affinity: on a
    64-core host that grants a container 2 CPUs, 64 threads then contend for 2
    and every matrix product waits on descheduled threads. joblib's
    ``cpu_count`` reads the quota and the affinity; inside the block torch
    uses at most that many threads, and its setting is restored after.
    Nothing changes where torch's count already fits (joblib's workers, for
    instance, start with ``OMP_NUM_THREADS`` set to their share).

    Examples
    --------
    >>> import torch
    >>> from skdeep._threads import threads_within_cpu_share
    >>> before = torch.get_num_threads()
    >>> with threads_within_cpu_share():
    ...     pass
    >>> torch.get_num_threads() == before
    True
    """
    threads, share = torch.get_num_threads(), cpu_count()
    if threads <= share:
        yield
        return
    torch.set_num_threads(share)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
