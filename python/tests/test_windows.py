"""Windows (sharded initialization): a fill with window=(dim, start, global_extent) gives exactly the
slice of the whole parameter, for every scheme and dtype, for even and uneven splits; and equals the
shard the paraminit program writes with --world-size W --rank R (its own independent sharding)."""
import numpy as np
import pytest
import torch

import paraminit as pi
from _cases import CASES, DTYPES, assert_same_bits, fill, spec_for, torch_dtype

SHARDED = [c for c in CASES if c.shard is not None]


def splits(extent, parts):
    """[start, stop) of each part, as the program splits: extent * r / parts."""
    b = [extent * r // parts for r in range(parts + 1)]
    return list(zip(b[:-1], b[1:]))


def window_shape(case, start, stop):
    s = list(case.shape)
    s[case.shard] = stop - start
    return s


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", SHARDED, ids=lambda c: c.name)
def test_windows_equal_slices_of_the_whole(case, dtype):
    dt = torch_dtype(dtype)
    whole = torch.empty(case.shape, dtype=dt)
    fill(case, whole)
    e = case.shape[case.shard]
    # even and uneven splits, a single-element window and an empty one
    for parts in [splits(e, 2), splits(e, 3), [(0, 1), (1, e)], [(e - 1, e)], [(e // 2, e // 2)]]:
        for start, stop in parts:
            part = torch.full(window_shape(case, start, stop), 3.0, dtype=dt)
            fill(case, part, window=(case.shard, start, e))
            assert_same_bits(part, whole.narrow(case.shard, start, stop - start),
                             f"{case.name} {dtype} window [{start}, {stop}) of {e}")


@pytest.mark.parametrize("world", [2, 3])
@pytest.mark.parametrize("dtype", ["f32", "bf16"])
def test_windows_equal_program_shards(cli_run, dtype, world):
    dt = torch_dtype(dtype)
    spec = spec_for(dtype)
    for rank in range(world):
        shards = cli_run(spec, f"sharded_{dtype}", world=world, rank=rank)
        for case in SHARDED:
            e = case.shape[case.shard]
            start, stop = splits(e, world)[rank]
            part = torch.empty(window_shape(case, start, stop), dtype=dt)
            fill(case, part, window=(case.shard, start, e))
            assert_same_bits(part, shards[case.name], f"{case.name} {dtype} rank {rank} of {world}")


def test_window_negative_dim_and_numpy():
    whole = np.empty((6, 10), np.float32)
    pi.xavier_uniform_(whole, seed=4, name="w")
    part = np.empty((6, 4), np.float32)
    pi.xavier_uniform_(part, seed=4, name="w", window=(-1, 3, 10))
    assert np.array_equal(part, whole[:, 3:7])
    pi.xavier_uniform_(part, seed=4, name="w", window=[1, 6, 10])  # any sequence of three ints
    assert np.array_equal(part, whole[:, 6:10])


def test_window_of_a_view_with_offset():
    """A row block of a bigger contiguous buffer (torch.narrow on dim 0) filled as its window."""
    buf = torch.zeros(10, 8)
    pi.normal_(buf[4:7], seed=2, name="p", window=(0, 4, 10))
    whole = torch.empty(10, 8)
    pi.normal_(whole, seed=2, name="p")
    assert_same_bits(buf[4:7], whole[4:7], "row block")
    assert torch.count_nonzero(buf[:4]) == 0 and torch.count_nonzero(buf[7:]) == 0
