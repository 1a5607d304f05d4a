"""PostgreSQL 15's ``hashtext``, ``hashfloat8`` and ``hashfloat4``, bit for bit, over Arrow arrays.

Why this exists: hotcold verifies that the Parquet lake holds exactly what PostgreSQL held. Pulling
every row back out of PostgreSQL to compare it is too slow at 10 million rows, so each side computes
a per-column fingerprint from per-value hashes instead. PostgreSQL computes its side with its own
built-in functions (``hashtext(x COLLATE "C")``, ``hashfloat8(x)``, ``hashfloat4(x)``); this module
computes the same 32-bit values from the lake's Arrow data, so the two fingerprints agree iff the
values do.

Where the algorithm comes from (PostgreSQL 15 source):

* ``src/common/hashfn.c``, ``hash_bytes()`` (what ``hash_any()`` calls): Bob Jenkins' lookup3
  hash as adapted by PostgreSQL. Keys are consumed in 12-byte blocks as three little-endian
  ``uint32`` words added into ``a, b, c`` followed by ``mix()``; the last 0..11 bytes are added
  zero-padded, except that the tail's third word is shifted left by 8 bits (its lowest byte is
  "reserved for the length", which PostgreSQL's version never actually puts there); then
  ``final()``, and ``c`` is the result. The aligned and unaligned code paths in that file read the
  same words on a little-endian machine, so one formulation covers both.
* ``src/backend/access/hash/hashfunc.c``: ``hashtext()`` hashes the UTF-8 bytes when the collation
  is deterministic; ``hashfloat8()`` returns 0 for +0.0 and -0.0, replaces any NaN with
  ``get_float8_nan()`` (``src/include/utils/float.h``: ``(float8) NAN``, bits
  ``0x7ff8000000000000`` on x86-64/arm64) and hashes the 8 bytes of the double;
  ``hashfloat4()`` widens to float8 first, so it equals ``hashfloat8`` of the widened value.

PostgreSQL returns these as ``int4``, so results are ``pa.int32()`` (the ``uint32`` hash
reinterpreted as signed), NULL where the input is NULL. All arithmetic is numpy ``uint32``, whose
wrap-around is exactly C's unsigned arithmetic. ``register(conn)`` exposes the three functions to
DuckDB as ``hc_pg_hashtext``, ``hc_pg_hashfloat8`` and ``hc_pg_hashfloat4``.

This is only valid for a little-endian PostgreSQL server (the big-endian build of hashfn.c reads
words the other way round) and, for text, only for deterministic collations such as "C".
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["hashtext", "hashfloat8", "hashfloat4", "hash_bytes", "register"]

_INIT = 0x9E3779B9 + 3923095  # hash_bytes' starting state before the key length is added
_FLOAT8_NAN_BITS = np.uint64(0x7FF8000000000000)  # get_float8_nan() on IEEE little-endian hosts
_SEED8 = np.uint32((_INIT + 8) & 0xFFFFFFFF)  # every float hashes exactly 8 bytes
# Rows per numpy pass: large enough to amortise per-call overhead, small enough that a, b, c and
# the temporaries stay in L2 instead of streaming through memory for each of the ~80 operations.
_CHUNK = 1 << 15
_BATCH_BYTES = 16 << 20  # cap on the per-batch copy of key bytes in hash_bytes
_SAMPLE = 1 << 14  # values sampled to decide whether dictionary encoding pays off
# For a tail of r = 0..11 bytes, the masks keeping its bytes in each of the tail's three words.
_TAIL_MASKS = np.array(
    [[(1 << (8 * min(max(r - 4 * j, 0), 4))) - 1 for j in range(3)] for r in range(12)], dtype=np.uint32
)


def _rot(x, k, out, tmp):
    np.left_shift(x, k, out=out)
    np.right_shift(x, 32 - k, out=tmp)
    np.bitwise_or(out, tmp, out=out)
    return out


def _mix(a, b, c, t, u):
    # In place, with caller-provided scratch, because allocating per operation dominated the cost.
    a -= c; a ^= _rot(c, 4, t, u); c += b
    b -= a; b ^= _rot(a, 6, t, u); a += c
    c -= b; c ^= _rot(b, 8, t, u); b += a
    a -= c; a ^= _rot(c, 16, t, u); c += b
    b -= a; b ^= _rot(a, 19, t, u); a += c
    c -= b; c ^= _rot(b, 4, t, u); b += a


def _final(a, b, c, t, u):
    c ^= b; c -= _rot(b, 14, t, u)
    a ^= c; a -= _rot(c, 11, t, u)
    b ^= a; b -= _rot(a, 25, t, u)
    c ^= b; c -= _rot(b, 16, t, u)
    a ^= c; a -= _rot(c, 4, t, u)
    b ^= a; b -= _rot(a, 14, t, u)
    c ^= b; c -= _rot(b, 24, t, u)


def _rows(data: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
    """``data[s : s + width]`` for every s in ``starts`` as an m x width uint8 matrix.

    One contiguous copy per key instead of one gather per word: gathering words from scattered
    keys cost 30-50 ns each, copying whole rows costs about a memcpy. Rows running past the end of
    ``data`` are zero-filled there.
    """
    limit = len(data) - width  # keys starting at or before this have width bytes available
    if limit >= 0:
        window = np.lib.stride_tricks.as_strided(data, shape=(limit + 1, width), strides=(1, 1), writeable=False)
        inside = starts <= limit
        if inside.all():
            return window[starts]
    else:
        inside = np.zeros(len(starts), dtype=bool)
    out = np.empty((len(starts), width), np.uint8)
    if limit >= 0:
        out[inside] = window[starts[inside]]
    # Only keys in the buffer's last `width` bytes get here; pad just that stretch.
    first = max(limit + 1, 0)
    padded = np.concatenate([data[first:], np.zeros(width, np.uint8)])
    tail_window = np.lib.stride_tricks.as_strided(padded, shape=(len(padded) - width + 1, width), strides=(1, 1), writeable=False)
    out[~inside] = tail_window[starts[~inside] - first]
    return out


def hash_bytes(data: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``hash_bytes()`` of src/common/hashfn.c for many keys stored in one byte buffer.

    ``data``: 1-D ``uint8`` array; key ``i`` is ``data[starts[i] : starts[i] + lengths[i]]``
    (``starts``, ``lengths``: 1-D integer arrays of equal length n, in bytes). Returns n
    ``uint32`` hashes, equal to what PostgreSQL's ``hash_any`` returns on a little-endian machine.

    Keys are processed 12-byte block by 12-byte block across many keys at once. Keys are sorted
    longest first, so the keys that still have a full block ``i`` are always a prefix and each
    step works on a view instead of a masked copy; it also makes keys of a batch similar in
    length, so padding them to the batch's longest wastes little.
    """
    data = np.ascontiguousarray(data, dtype=np.uint8)
    starts = np.asarray(starts, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    n = len(starts)
    out = np.empty(n, dtype=np.uint32)
    if n == 0:
        return out
    nfull = lengths // 12
    most = int(nfull.max())
    if most == 0:
        order = None
    else:
        # numpy's stable sort is a radix sort for 16-bit keys: O(n) for any realistic text.
        key = (most - nfull).astype(np.uint16 if most < 1 << 16 else np.int64)
        order = np.argsort(key, kind="stable")
        starts, lengths, nfull = starts[order], lengths[order], nfull[order]

    t = np.empty(_CHUNK, np.uint32)
    u = np.empty(_CHUNK, np.uint32)
    lo = 0
    while lo < n:
        blocks = int(nfull[lo])  # the batch's longest key, thanks to the sort
        width = 12 * (blocks + 1)  # its full blocks plus a (possibly empty) tail block
        # Bound the batch's byte matrix so one very long key cannot make every row huge.
        hi = min(n, lo + max(1, min(_CHUNK, _BATCH_BYTES // width)))
        m = hi - lo
        s, ln, nf = starts[lo:hi], lengths[lo:hi], nfull[lo:hi]
        words = _rows(data, s, width).view("<u4")  # m x 3*(blocks+1)
        a = ln.astype(np.uint32)
        a += np.uint32(_INIT & 0xFFFFFFFF)
        b = a.copy()
        c = a.copy()
        if blocks:
            # Rows with more than i full blocks; nf is descending, so they are a prefix.
            active = np.searchsorted(-nf, -np.arange(blocks), side="left")
            for i in range(blocks):
                k = int(active[i])
                a[:k] += words[:k, 3 * i]
                b[:k] += words[:k, 3 * i + 1]
                c[:k] += words[:k, 3 * i + 2]
                _mix(a[:k], b[:k], c[:k], t[:k], u[:k])
        # The last 0..11 bytes: the row's block after its full ones, with the bytes beyond the
        # key zeroed, which is what the switch's fall-through cases amount to on little-endian.
        # The third word goes in shifted by 8 bits: hashfn.c adds k[8] << 8, k[9] << 16, k[10] << 24.
        rows = np.arange(m)
        col = 3 * nf
        mask = _TAIL_MASKS[ln - 12 * nf]
        a += words[rows, col] & mask[:, 0]
        b += words[rows, col + 1] & mask[:, 1]
        c += (words[rows, col + 2] & mask[:, 2]) << np.uint32(8)
        _final(a, b, c, t[:m], u[:m])
        if order is None:
            out[lo:hi] = c
        else:
            out[order[lo:hi]] = c
        lo = hi
    return out


def _int32_result(hashes: np.ndarray, like: pa.Array) -> pa.Array:
    """``hashes`` (uint32, one per element of ``like``) as int32 with ``like``'s nulls."""
    if like.null_count == 0:
        return pa.array(hashes.view(np.int32), type=pa.int32())
    # Reuse the input's validity bitmap instead of building a mask; it is addressed with the
    # input's offset, so the values are placed at the same offset.
    off = like.offset
    if off:
        padded = np.zeros(off + len(hashes), np.uint32)
        padded[off:] = hashes
        hashes = padded
    return pa.Array.from_buffers(
        pa.int32(), len(like), [like.buffers()[0], pa.py_buffer(hashes.view(np.int32))],
        null_count=like.null_count, offset=off,
    )


def _hash_varlen(arr: pa.Array) -> np.ndarray:
    """uint32 hash of every element's bytes of a plain (large_)string/binary array; nulls arbitrary."""
    if pa.types.is_string_view(arr.type) or pa.types.is_binary_view(arr.type):
        arr = arr.cast(pa.large_binary())
    large = pa.types.is_large_string(arr.type) or pa.types.is_large_binary(arr.type)
    n = len(arr)
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int64 if large else np.int32)[arr.offset: arr.offset + n + 1]
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    starts = offsets[:-1].astype(np.int64)
    return hash_bytes(data, starts, offsets[1:] - offsets[:-1])


def _is_text(t: pa.DataType) -> bool:
    return (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)
            or pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t))


def _mostly_distinct(values) -> bool:
    """Whether a random sample of ``values`` is mostly distinct, i.e. dictionary encoding would
    cost more than it saves: Arrow's encoding of unique short strings takes about 4x as long as
    hashing them, while it makes a ticker column almost free."""
    n = len(values)
    if n <= _SAMPLE:
        return False
    # A fixed seed keeps the choice (a speed decision only, never a result) reproducible.
    idx = np.random.default_rng(0).integers(0, n, _SAMPLE)
    return pc.count_distinct(values.take(pa.array(idx))).as_py() > _SAMPLE // 2


def hashtext(values) -> pa.Int32Array:
    """PostgreSQL's ``hashtext(x COLLATE "C")`` of every value: n strings in, n int32 out.

    ``values``: ``pa.StringArray``, ``LargeStringArray``, ``StringViewArray``, a
    ``DictionaryArray`` of those, or a ``ChunkedArray`` of any of them (binary arrays are accepted
    too: their bytes hash as the same bytes stored as text would). Returns one ``pa.Int32Array``
    of the same length, NULL where the value is NULL.

    Each distinct string is hashed once: the input is dictionary-encoded (unless it already is)
    and the dictionary's hashes are taken by index, so a 3000-ticker column of 10 million rows
    costs 3000 hashes plus Arrow's encoding. The exception is a column whose sample of 16384
    values is more than half distinct: encoding would cost more than it saves, so every value is
    hashed directly. Both ways give identical results.
    """
    if isinstance(values, pa.ChunkedArray):
        if not _is_text(values.type) and not (pa.types.is_dictionary(values.type) and _is_text(values.type.value_type)):
            raise TypeError(f"hashtext needs strings, got {values.type}")
        if values.num_chunks == 0:
            return pa.array([], pa.int32())
        if not pa.types.is_dictionary(values.type) and _mostly_distinct(values):
            return pa.concat_arrays([_int32_result(_hash_varlen(c), c) for c in values.chunks])
        enc = values if pa.types.is_dictionary(values.type) else pc.dictionary_encode(values)
        chunks = enc.chunks
        first = chunks[0].dictionary
        # Arrow encodes a ChunkedArray against one shared dictionary; anything else is unified
        # first so that every distinct value is still hashed only once.
        if not all(c.dictionary is first or _same_buffers(c.dictionary, first) for c in chunks[1:]):
            chunks = enc.unify_dictionaries().chunks
        dictionary = chunks[0].dictionary
        indices = pa.concat_arrays([c.indices for c in chunks])
    elif isinstance(values, pa.DictionaryArray):
        dictionary, indices = values.dictionary, values.indices
    elif isinstance(values, pa.Array):
        if not _is_text(values.type):
            raise TypeError(f"hashtext needs strings, got {values.type}")
        if _mostly_distinct(values):
            return _int32_result(_hash_varlen(values), values)
        enc = pc.dictionary_encode(values)
        dictionary, indices = enc.dictionary, enc.indices
    else:
        raise TypeError(f"hashtext needs a pyarrow array, got {type(values).__name__}")
    if not _is_text(dictionary.type):
        raise TypeError(f"hashtext needs strings, got dictionary of {dictionary.type}")
    per_value = _int32_result(_hash_varlen(dictionary), dictionary)
    return pc.take(per_value, indices)


def _same_buffers(x: pa.Array, y: pa.Array) -> bool:
    bx, by = x.buffers(), y.buffers()
    return (len(x) == len(y) and x.offset == y.offset
            and all((p is None and q is None) or (p is not None and q is not None and p.address == q.address)
                    for p, q in zip(bx, by)))


def _float_hashes(x: np.ndarray) -> np.ndarray:
    """uint32 ``hashfloat8`` of a float64 array (no nulls involved)."""
    bits = x.view(np.uint64)
    out = np.empty(len(x), np.uint32)
    t = np.empty(_CHUNK, np.uint32)
    u = np.empty(_CHUNK, np.uint32)
    for lo in range(0, len(x), _CHUNK):
        hi = min(lo + _CHUNK, len(x))
        m = hi - lo
        w = bits[lo:hi]
        nan = np.isnan(x[lo:hi])
        if nan.any():
            w = np.where(nan, _FLOAT8_NAN_BITS, w)
        # An 8-byte key never reaches mix(): hash_bytes' tail adds the two little-endian words
        # to a and b and goes straight to final().
        words = np.ascontiguousarray(w).view(np.uint32).reshape(m, 2)
        a = words[:, 0] + _SEED8
        b = words[:, 1] + _SEED8
        c = np.full(m, _SEED8, np.uint32)
        _final(a, b, c, t[:m], u[:m])
        # hashfloat8 returns 0 itself for +-0.0 rather than hashing the bits.
        c[x[lo:hi] == 0.0] = 0
        out[lo:hi] = c
    return out


def _floats(values, want32: bool, name: str) -> pa.Int32Array:
    if isinstance(values, pa.ChunkedArray):
        if values.num_chunks == 0:
            return pa.array([], pa.int32())
        return pa.concat_arrays([_floats(c, want32, name) for c in values.chunks])
    if not isinstance(values, pa.Array):
        raise TypeError(f"{name} needs a pyarrow array, got {type(values).__name__}")
    t = values.type
    if pa.types.is_float64(t) and not want32:
        dtype = np.float64
    elif pa.types.is_float32(t) or pa.types.is_float16(t):
        # Widening is exact, and is what hashfloat4 does before hashing.
        dtype = np.float32 if pa.types.is_float32(t) else np.float16
    else:
        # hashfloat4 of a double would need PostgreSQL's float8->float4 rounding and overflow
        # errors; refuse rather than guess.
        raise TypeError(f"{name} needs {'float4' if want32 else 'float8 or float4'} values, got {t}")
    raw = np.frombuffer(values.buffers()[1], dtype=dtype)[values.offset: values.offset + len(values)]
    # Signalling NaNs raise the FPU's invalid flag when widened or compared; they are still NaN
    # and hash as such, so the warning numpy would print is noise.
    with np.errstate(invalid="ignore"):
        return _int32_result(_float_hashes(raw.astype(np.float64, copy=False)), values)


def hashfloat8(values) -> pa.Int32Array:
    """PostgreSQL's ``hashfloat8(x)`` of every value: n doubles in, n int32 out.

    ``values``: ``pa.DoubleArray`` (or a ``FloatArray``, widened exactly, which gives
    ``hashfloat4``), or a ``ChunkedArray`` of those. NULL in, NULL out; +0.0 and -0.0 give 0;
    every NaN gives the hash of PostgreSQL's canonical NaN.
    """
    return _floats(values, False, "hashfloat8")


def hashfloat4(values) -> pa.Int32Array:
    """PostgreSQL's ``hashfloat4(x)`` of every value: n ``pa.FloatArray`` floats in, n int32 out.

    Equal to ``hashfloat8`` of the value widened to double, as in hashfunc.c. Doubles are refused:
    PostgreSQL would round them to float4 first (or fail on overflow), which belongs to the caller.
    """
    return _floats(values, True, "hashfloat4")


_SEED4 = np.uint32((_INIT + 4) & 0xFFFFFFFF)  # hash_bytes_uint32: one 4-byte word
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
# PostgreSQL counts timestamps in microseconds from 2000-01-01, the lake from 1970-01-01.
_PG_EPOCH_US = 946_684_800_000_000


def hashint8(values) -> pa.Int32Array:
    """PostgreSQL's ``hashint8(x)``: n int64 in, n int32 out (hashfunc.c: the high word folded
    into the low one, its complement for negatives, then hash_bytes_uint32 of that word)."""
    if isinstance(values, pa.ChunkedArray):
        return pa.concat_arrays([hashint8(c) for c in values.chunks]) if values.num_chunks else pa.array([], pa.int32())
    raw = np.frombuffer(values.buffers()[1], dtype=np.int64)[values.offset: values.offset + len(values)]
    return _int32_result(_hash_int64(raw), values)


def _hash_int64(raw: np.ndarray) -> np.ndarray:
    lo = (raw & 0xFFFFFFFF).astype(np.uint32)
    hi = (raw >> 32).astype(np.uint32)  # arithmetic shift, as C's on int64
    lo ^= np.where(raw >= 0, hi, ~hi)
    out = np.empty(len(raw), np.uint32)
    for start in range(0, len(raw), _CHUNK):
        k = lo[start:start + _CHUNK]
        a = k + _SEED4
        b = np.full(len(k), _SEED4, np.uint32)
        c = np.full(len(k), _SEED4, np.uint32)
        t, u = np.empty(len(k), np.uint32), np.empty(len(k), np.uint32)
        _final(a, b, c, t, u)
        out[start:start + len(k)] = c
    return out


def timestamp_hash(values) -> pa.Int32Array:
    """PostgreSQL's ``timestamp_hash(x)`` (hashint8 of its microseconds since 2000) of Arrow
    timestamps as the lake holds them (since 1970, any unit, with or without zone: the instant
    for a zoned one, the UTC wall time for a plain one, both what PostgreSQL stores). DuckDB's
    ±infinity (the int64 maximum and its negation) become PostgreSQL's (the maximum and the
    minimum)."""
    if isinstance(values, pa.ChunkedArray):
        return pa.concat_arrays([timestamp_hash(c) for c in values.chunks]) if values.num_chunks else pa.array([], pa.int32())
    unit = values.type.unit
    raw = np.frombuffer(values.buffers()[1], dtype=np.int64)[values.offset: values.offset + len(values)]
    finite = (raw != _INT64_MAX) & (raw != -_INT64_MAX) & (raw != _INT64_MIN)
    with np.errstate(over="ignore"):
        scaled = {"s": raw * 1_000_000, "ms": raw * 1_000, "us": raw, "ns": raw // 1_000}[unit]
        pg = np.where(finite, scaled - _PG_EPOCH_US, np.where(raw > 0, _INT64_MAX, _INT64_MIN)).astype(np.int64)
    return _int32_result(_hash_int64(pg), values)


_UDFS = (
    ("hc_pg_hashtext", hashtext, "VARCHAR"),
    ("hc_pg_hashfloat8", hashfloat8, "DOUBLE"),
    ("hc_pg_hashfloat4", hashfloat4, "FLOAT"),
    ("hc_pg_timestamp_hash", timestamp_hash, "TIMESTAMP"),
    ("hc_pg_timestamptz_hash", timestamp_hash, "TIMESTAMP WITH TIME ZONE"),
)


def register(conn: duckdb.DuckDBPyConnection) -> None:
    """Register ``hc_pg_hashtext(VARCHAR)``, ``hc_pg_hashfloat8(DOUBLE)``,
    ``hc_pg_hashfloat4(FLOAT)``, ``hc_pg_timestamp_hash(TIMESTAMP)`` and
    ``hc_pg_timestamptz_hash(TIMESTAMP WITH TIME ZONE)``, each returning INTEGER, as vectorised
    Arrow UDFs on ``conn``.

    NULL in gives NULL out. Safe to call again on the same connection: an existing registration
    is replaced.
    """
    for name, fn, arg in _UDFS:
        try:
            conn.remove_function(name)
        except duckdb.InvalidInputException:
            pass  # not registered yet
        conn.create_function(
            name, fn, [duckdb.sqltype(arg)], duckdb.sqltype("INTEGER"),
            type="arrow", null_handling="special", side_effects=False,
        )
