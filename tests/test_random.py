"""torch's global generators: seeded inside a block, the caller's state restored, one block at a time."""

import threading
import time
from functools import partial

import pytest
import torch

from skdeep._random import cuda_devices, draws_from_global_generators, seeded_torch, seeded_training
from skdeep.modules import CNN, MLP

CPU = torch.device("cpu")


def draws(n=5):
    return torch.rand(n)


def seed_draws(seed, n=5):
    return torch.rand(n, generator=torch.Generator().manual_seed(seed))


def test_seeded_torch_leaves_the_callers_global_generator_untouched():
    torch.manual_seed(123)
    expected = draws()
    torch.manual_seed(123)
    with seeded_torch(0, CPU):
        draws(100)
    assert torch.equal(draws(), expected)  # as if the block had never drawn


@pytest.mark.parametrize("seed", [0, 7, 2**31 - 1])
def test_seeded_torch_draws_what_a_generator_of_that_seed_draws(seed):
    with seeded_torch(seed, CPU):
        first = draws()
    with seeded_torch(seed, CPU):
        again = draws()
    assert torch.equal(first, seed_draws(seed)) and torch.equal(again, first)


def test_different_seeds_draw_differently():
    with seeded_torch(0, CPU):
        first = draws()
    with seeded_torch(1, CPU):
        assert not torch.equal(draws(), first)


def test_the_callers_state_is_restored_when_the_block_raises():
    state = torch.random.get_rng_state()
    with pytest.raises(RuntimeError, match="inside"):
        with seeded_torch(0, CPU):
            draws()
            raise RuntimeError("inside")
    assert torch.equal(torch.random.get_rng_state(), state)


def test_blocks_in_threads_run_one_at_a_time_and_draw_their_own_seeds():
    results = {}

    def run(seed):
        with seeded_torch(seed, CPU):
            values = []
            for _ in range(3):
                values.append(draws(1))
                time.sleep(0.002)  # another thread would draw in between without the lock
            results[seed] = torch.cat(values)

    threads = [threading.Thread(target=run, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for seed in range(4):
        assert torch.equal(results[seed], seed_draws(seed, 3))


@pytest.mark.parametrize("device, expected", [("cpu", []), ("cuda", [0]), ("cuda:1", [1]), ("mps", [])])
def test_fork_rng_keeps_the_state_of_the_cuda_device_that_trains(device, expected):
    assert cuda_devices(torch.device(device)) == expected


@pytest.mark.parametrize("build, own_module, expected", [
    (partial(MLP, 4, 2, hidden_layer_sizes=(8,)), True, False),
    (partial(MLP, 4, 2, hidden_layer_sizes=(8,), batch_norm=True), True, False),
    (partial(MLP, 4, 2, hidden_layer_sizes=(8,), dropout=0.2), True, True),
    (partial(CNN, (1, 6, 6), 2, conv_filters=(3,)), True, False),
    (partial(CNN, (1, 6, 6), 2, conv_filters=(3,), dropout=0.5), True, True),
    (lambda: torch.nn.Sequential(torch.nn.Linear(4, 2), torch.nn.AlphaDropout(0.1)), True, True),
    (partial(torch.nn.Linear, 4, 2), False, True),  # a user's module may draw anywhere
])
def test_only_dropout_or_a_users_module_draws_from_the_global_generators(build, own_module, expected):
    assert draws_from_global_generators(build(), own_module=own_module) is expected


def test_seeded_training_seeds_only_modules_that_draw():
    with_dropout, without = MLP(4, 2, dropout=0.3), MLP(4, 2)
    torch.manual_seed(5)
    expected = draws()
    torch.manual_seed(5)
    with seeded_training(0, CPU, with_dropout, own_module=True):
        assert torch.equal(draws(), seed_draws(0))
    with seeded_training(0, CPU, without, own_module=True):
        assert torch.equal(draws(), expected)  # the caller's own stream: nothing was seeded
