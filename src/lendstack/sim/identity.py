"""Identifiers (phone, device, bank account, address hashes) and the fraud rings that share them.

Every applicant gets four identifiers, distinct by construction (a bijective mix of the row index),
except that families innocently share an address or an account, and ring members share at least one
identifier with their ring's leader.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa

from lendstack.sim.columns import Columns, with_nulls
from lendstack.sim.draws import IntArray, stream
from lendstack.sim.population import Population

U64 = npt.NDArray[np.uint64]
IDENTIFIERS = ("phone_hash", "device_id", "bank_account_hash", "address_hash")
FAMILY_SHARE = {"address_hash": 0.02, "bank_account_hash": 0.005}  # households share homes and accounts
RING_SHARES_KIND = 0.55  # chance that a ring shares each identifier kind (at least one is shared)


def draw_identity(seed: int, people: Population) -> Columns:
    rng = stream(seed, "identity")
    n = people.n
    values = {kind: _bijective_ids(seed, k, n) for k, kind in enumerate(IDENTIFIERS)}
    for kind, share in FAMILY_SHARE.items():
        copied = rng.random(n) < share
        values[kind] = np.where(copied, values[kind][rng.integers(0, max(n, 1), n)], values[kind])
    _share_within_rings(rng, people, values)
    columns: Columns = {kind: _hex(kind, ids) for kind, ids in values.items()}
    columns["ring_id"] = _ring_ids(seed, people.rings.ring_of_row)
    return columns


def _share_within_rings(rng: np.random.Generator, people: Population, values: dict[str, U64]) -> None:
    rings = people.rings
    count = len(rings.leader_row)
    shares = rng.random((count, len(IDENTIFIERS))) < RING_SHARES_KIND
    shares[~shares.any(axis=1), IDENTIFIERS.index("device_id")] = True  # every ring shares something
    members = np.flatnonzero(rings.in_ring)
    ring = rings.ring_of_row[members]
    leader = rings.leader_row[ring]
    for k, kind in enumerate(IDENTIFIERS):
        values[kind][members] = np.where(shares[ring, k], values[kind][leader], values[kind][members])


def _bijective_ids(seed: int, kind: int, n: int) -> U64:
    """splitmix64's finaliser is a bijection of uint64, so distinct inputs give distinct identifiers."""
    salt = np.uint64((seed * 0x9E3779B97F4A7C15 + kind * 0xBF58476D1CE4E5B9) % 2**64)
    x = np.arange(n, dtype=np.uint64) ^ salt
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    result: U64 = x ^ (x >> np.uint64(31))
    return result


def _hex(name: str, ids: U64) -> pl.Series:
    """16 lowercase hex digits per identifier, built in Arrow/Polars without a Python loop."""
    big_endian = ids.astype(">u8").tobytes()
    fixed = pa.Array.from_buffers(pa.binary(8), len(ids), [None, pa.py_buffer(big_endian)])
    series = pl.from_arrow(fixed.cast(pa.binary()))
    assert isinstance(series, pl.Series)
    return series.bin.encode("hex").alias(name)


def _ring_ids(seed: int, ring_of_row: IntArray) -> pl.Series:
    numbers = pl.Series("ring_id", np.maximum(ring_of_row, 0)).cast(pl.String).str.zfill(5)
    return with_nulls(f"R{seed:04d}-" + numbers, ring_of_row >= 0).alias("ring_id")
