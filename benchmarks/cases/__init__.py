"""The benchmark cases, by topic, in one registry: ``CASES`` maps each case's name to its :class:`harness.Case`.

The order is the order of a default run.
"""

from . import cold, gpu, images, latency, memory, scaling, search, small, tabular, threads

CASES = {**tabular.CASES, **small.CASES, **threads.CASES, **cold.CASES, **latency.CASES, **memory.CASES,
         **scaling.CASES, **search.CASES, **images.CASES, **gpu.CASES}
