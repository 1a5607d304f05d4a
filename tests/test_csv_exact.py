"""CSV as PostgreSQL reads it (issue 16, item 5): a backfilled CSV file holds, in the lake,
what PostgreSQL's `COPY table (<the header's columns>) FROM ... (FORMAT csv, HEADER)` reads
from it, value for value; a file COPY refuses, the backfill refuses too; and what COPY reads
the backfill refuses only where DuckDB cannot read it the same way, by line and column
(the tests *_is_refused_by_line*, listed in the README).

Each file is loaded both ways: `hotcold.backfill` into the lake (rows of 2020-2023, older than
the hot window), and COPY into a reference table of the same definition, in a session with
hotcold's settings (UTC). The lake's values are then sent to PostgreSQL, cast to the column's
type without its length (an explicit cast to varchar(5) would cut a value into agreement) and
compared there, as text, with the reference's; the columns the lake keeps as PostgreSQL's
text must hold exactly that text.

The columns are named by the header, in any order: PostgreSQL 15's plain HEADER skips the
first line and maps by position, which would put a reordered file's values in the wrong
columns, so hotcold matches the header's names as `COPY table (<names>)` does.

One database, config and lake serve the whole module (each test takes ids and days of its
own): a backfill whose dbt vars are the same as the last one's skips dbt's parse.
"""

from __future__ import annotations

import itertools
import re
from datetime import date, timedelta
from pathlib import Path

import duckdb
import psycopg
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hotcold
from hotcold.errors import HotColdError
from hotcold.store.duckdb_ext import load_postgres
from hotcold.store.hot_store import session_dsn
from support import scratch_database, write_config

AS_OF = date(2026, 11, 25)
COLUMNS = [
    ("id", "integer"), ("ts", "timestamptz"),
    ("t", "text"), ("vc", "varchar(5)"),
    ("i4", "integer"), ("i8", "bigint"), ("i2", "smallint"),
    ("n", "numeric(12,4)"), ("f8", "double precision"), ("f4", "real"),
    ("b", "boolean"), ("d", "date"), ("tsz", "timestamptz"), ("tsn", "timestamp"), ("ts3", "timestamptz(3)"),
    # Kept in the lake as PostgreSQL's exact text of the value.
    ("iv", "interval"), ("js", "jsonb"), ("ai", "int[]"),
]
NAMES = [n for n, _ in COLUMNS]
TABLE = "csvx"
DDL = ", ".join(f"{n} {t}" for n, t in COLUMNS) + ", PRIMARY KEY (id)"
_ids = itertools.count(1)


class Lab:
    """The module's database, config and input file; ids of their own for each test; one
    session on PostgreSQL (hotcold's settings) and one DuckDB with it attached, reused."""

    def __init__(self, dsn: str, config: hotcold.Config, folder: Path):
        self.dsn, self.config, self.folder = dsn, config, folder
        self.path = folder / "input.csv"  # one path: the same dbt vars every time
        self.pg = psycopg.connect(session_dsn(dsn), autocommit=True)
        self.duck = duckdb.connect()
        load_postgres(self.duck)
        self.duck.execute("ATTACH '" + session_dsn(dsn).replace("'", "''") + "' AS pg (TYPE postgres)")

    def fresh_ids(self, n: int) -> list[int]:
        base = next(_ids) * 1000
        return [base + i for i in range(n)]

    def close(self):
        self.duck.close()
        self.pg.close()


@pytest.fixture(scope="module")
def lab(pg_server_dsn, tmp_path_factory):
    with scratch_database(pg_server_dsn) as dsn:
        folder = tmp_path_factory.mktemp("csv_exact")
        path = write_config(folder, "postgres", dsn)
        cfg = yaml.safe_load(path.read_text())
        cfg["tables"][TABLE] = {"time_column": "ts", "key": ["id"]}
        cfg["storage"]["rotation"]["tables"] = [TABLE]
        path.write_text(yaml.safe_dump(cfg))
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"CREATE TABLE {TABLE} ({DDL})")
            conn.execute(f"CREATE TABLE {TABLE}_ref ({DDL})")
        lab = Lab(dsn, hotcold.load_config(path), folder)
        try:
            yield lab
        finally:
            lab.close()


def day_of(id_: int) -> date:
    """Each test's rows on days of their own, all before the hot window (2020-2023)."""
    return date(2020, 1, 1) + timedelta(days=id_ // 1000 * 20 + id_ % 20)


def csv_text(rows: list[dict], ids: list[int], header: list[str] = NAMES, eol: str = "\n") -> str:
    """A file of `rows`, each {column: field as it stands in the file}; id and ts are filled
    in, other columns left empty (NULL)."""
    lines = [",".join(header)]
    for i, (row, id_) in enumerate(zip(rows, ids)):
        fields = {"id": str(id_), "ts": f"{day_of(id_)} 12:00:00+00", **row}
        lines.append(",".join(fields.get(n, "") for n in header))
    return eol.join(lines) + eol


def lake_files(config) -> dict:
    root = config.lake_root / TABLE
    return {str(p): (p.stat().st_mtime_ns, p.stat().st_size) for p in root.rglob("*.parquet")} if root.exists() else {}


def load_both(lab: Lab, text: str | bytes, ids: list[int], header: list[str] = NAMES):
    """COPY the file into the reference table and backfill it; returns (COPY's error or
    None, the backfill's error or None). A refused backfill must have changed no lake file."""
    data = text if isinstance(text, bytes) else text.encode()
    lab.path.write_bytes(data)
    pg_error = None
    lab.pg.execute(f"TRUNCATE {TABLE}_ref")
    try:
        with lab.pg.transaction(), lab.pg.cursor().copy(f"COPY {TABLE}_ref ({', '.join(header)}) FROM STDIN (FORMAT csv, HEADER)") as copy:
            copy.write(data)
    except psycopg.Error as exc:
        pg_error = str(exc).splitlines()[0]
    before = lake_files(lab.config)
    try:
        hotcold.backfill(lab.config, TABLE, [lab.path], as_of=AS_OF, archive=False)
        hc_error = None
    except HotColdError as exc:
        hc_error = str(exc)
        assert lake_files(lab.config) == before, "a refused backfill changed the lake"
    return pg_error, hc_error


EXACT_TEXT = {"iv", "js", "ai"}


def unsized(type_: str) -> str:
    # An explicit cast to varchar(5) or timestamptz(3) would cut or round the lake's value
    # into agreement; the type without its length cannot.
    return re.sub(r"\(\d+(,\d+)?\)", "", type_)


def differences(lab: Lab, ids: list[int]) -> list:
    """Rows and values where the lake differs from the reference table, compared in
    PostgreSQL as the text of the value cast to the column's type (without its length);
    the columns kept as PostgreSQL's text must hold exactly that text."""
    files = [str(p) for p in (lab.config.lake_root / TABLE).rglob("*.parquet")]
    back = f"back_{ids[0]}"
    rows = lab.duck.execute(f"SELECT {', '.join(NAMES)} FROM read_parquet(?, union_by_name = true, hive_partitioning = false) WHERE id BETWEEN ? AND ?",
                            [files, min(ids), max(ids)]).to_arrow_table()
    lab.duck.register("lake_rows", rows)
    lab.duck.execute(f"CREATE TABLE pg.public.{back} AS SELECT * FROM lake_rows")
    lab.duck.unregister("lake_rows")
    differ = {n: f"b.{n}::text IS DISTINCT FROM r.{n}::text" if n in EXACT_TEXT else f"(b.{n}::text::{unsized(t)})::text IS DISTINCT FROM r.{n}::text" for n, t in COLUMNS}
    shown = [f"CASE WHEN {d} THEN '{n}: ' || coalesce(r.{n}::text, 'NULL') || ' <> ' || coalesce(b.{n}::text, 'NULL') END" for n, d in differ.items()]
    # One query: each row that differs, with its columns that differ (reference <> lake).
    wrong = lab.pg.execute(f"SELECT r.id, b.id, ARRAY[{', '.join(shown)}] FROM {TABLE}_ref r FULL JOIN {back} b USING (id)"
                           f" WHERE r.id IS NULL OR b.id IS NULL OR {' OR '.join(differ.values())}").fetchall()
    lab.pg.execute(f"DROP TABLE {back}")
    return [(r_id, b_id, [d for d in diffs if d]) for r_id, b_id, diffs in wrong]


def assert_same(lab: Lab, rows: list[dict], header: list[str] = NAMES, eol: str = "\n") -> None:
    ids = lab.fresh_ids(len(rows))
    pg_error, hc_error = load_both(lab, csv_text(rows, ids, header, eol), ids, header)
    assert pg_error is None, f"COPY refused the file: {pg_error}"
    assert hc_error is None, f"backfill refused what COPY reads: {hc_error}"
    assert differences(lab, ids) == []


def assert_both_refuse(lab: Lab, text: str | bytes, ids: list[int], header: list[str] = NAMES) -> str:
    pg_error, hc_error = load_both(lab, text, ids, header)
    assert pg_error is not None, "COPY reads this file: the test is wrong"
    assert hc_error is not None, f"backfill accepted a file COPY refuses ({pg_error})"
    assert len(hc_error.splitlines()) == 1 and "input.csv" in hc_error and "Nothing was published" in hc_error, hc_error
    return hc_error


# --- Edge cases both read: the lake must hold exactly what COPY read -----------------------

ACCEPTED = {
    "unquoted_empty_is_null_quoted_empty_is_an_empty_string": [
        {"t": "", "vc": "", "iv": "", "js": "", "ai": ""}, {"t": '""', "vc": '""'}, {"t": '"   "', "vc": "   "}],
    "quoted_fields_with_commas_quotes_newlines_and_crlf": [
        {"t": '"a,b"'}, {"t": '"say ""hi"""'}, {"t": '"line1\nline2"'}, {"t": '"crlf\r\ninside"'}, {"t": '""""'},
        {"t": '"a"",b"', "vc": '"x,""y"'}, {"t": '"cr\ronly"'}, {"t": '"ends with newline\n"'}],
    "spaces_around_text_are_kept": [{"t": " lead", "vc": "trail"}, {"t": "trail ", "vc": " ab "}, {"t": '" both "'}, {"t": "\ttab\t"}, {"t": "in side"}],
    "spaces_around_numbers_dates_and_times_are_read": [
        {"i4": " 5 ", "i8": "\t-7\t", "i2": " +3", "n": " 1.5 ", "f8": " 2.5e1 ", "f4": " 0.25", "b": " yes ", "d": " 2024-01-02 ", "tsz": " 2024-01-02 10:00:00+00 ", "tsn": "2024-01-02 10:00 "},
        {"i4": '"  42  "', "n": '" -0.5"', "f8": '"1 "', "b": '" f"'}],
    "plus_signs_exponents_and_bare_points": [
        {"i4": "+5", "i8": "-0", "i2": "007", "n": "1e3", "f8": "1e3", "f4": "1E3"},
        {"n": "+1.5e-2", "f8": "+.5", "f4": "5."}, {"n": ".5", "f8": "-1E-2", "f4": "-.25e1"}, {"n": "5.", "f8": "1.e2"},
        {"i4": "2147483647", "i8": "-9223372036854775808", "i2": "-32768"}],
    "numeric_rounds_half_away_from_zero_to_its_scale": [
        {"n": "1.00005"}, {"n": "-1.00005"}, {"n": "1.000049999999999999999"}, {"n": "99999999.99994"}, {"n": "0.00005e1"}, {"n": "-0"}],
    "nan_and_infinity_in_floats": [
        {"f8": "NaN", "f4": "nan"}, {"f8": "Infinity", "f4": "-Infinity"}, {"f8": "-inf", "f4": "+inf"}, {"f8": "inf", "f4": "INFINITY"},
        {"f8": "-0", "f4": "-0.0"}, {"f8": "4.9e-324", "f4": "1e-45"}, {"f8": "1.7976931348623157e308", "f4": "3.4028235e38"}],
    "boolean_spellings": [{"b": v} for v in ["t", "f", "true", "FALSE", "yes", "no", "on", "off", "1", "0", "y", "N", "TrU", "of", "fals"]],
    "timestamps_with_and_without_offsets": [
        {"tsz": "2024-01-02 10:00:00", "tsn": "2024-01-02 10:00:00", "ts3": "2024-01-02 10:00:00.0005"},
        {"tsz": "2024-01-02T10:00:00Z", "tsn": "2024-01-02T10:00:00Z", "ts3": "2024-01-02T10:00:00.0015Z"},
        {"tsz": "2024-01-02 10:00:00+02", "tsn": "2024-01-02 10:00:00+02", "ts3": "1999-12-31 23:59:59.9995+00"},
        {"tsz": "2024-01-02t10:00:00.5-05:30", "tsn": "2024-01-02 10:00:00.5 -05:30"},
        {"tsz": "2024-01-02 10:00+0530", "tsn": "2024-01-02 9:5:7"},
        {"tsz": "2024-01-02 10:00:00 UTC", "tsn": "2024-01-02 10:00:00 gmt"},
        {"tsz": "2024-01-02 23:59:60", "tsn": "2024-01-02 24:00:00"},
        {"tsz": "2024-01-02 10:00:00.1234565", "tsn": "2024-01-02 10:00:00.9999995", "ts3": "2024-01-02 10:00:00.9999"},
        {"tsz": "2024-01-02 10:00:00.0000025", "tsn": "2024-01-02 10:00:00.", "ts3": "1970-01-01 00:00:00.0005"},
        {"tsz": "infinity", "tsn": "-infinity", "ts3": "Infinity"},
        {"tsz": "epoch", "tsn": "EPOCH", "ts3": "2024-01-02"},
        {"tsz": "2024-01-02 10:00+15:59", "tsn": "2024-01-02 10:00:00-15:59:59", "ts3": "2024-01-02 10:00 +5"}],
    "dates_in_iso_form_and_with_a_time": [
        {"d": "2024-01-02"}, {"d": "2024-1-2"}, {"d": "2024-02-29"}, {"d": "2024-01-02 10:00:00"}, {"d": "2024-01-02T23:59:59.9999999"},
        {"d": "2024-01-02 24:00"}, {"d": "infinity"}, {"d": "-infinity"}, {"d": "epoch"}, {"d": "0001-01-01"}, {"d": "2024-01-02+05"}],
    "the_text_NULL_is_a_string": [{"t": "NULL", "vc": "NULL", "js": "null"}, {"t": '"NULL"', "vc": "null"}, {"t": "\\N"}],
    "unicode": [{"t": "é", "vc": "日本語五字"}, {"t": "🚀 rocket", "vc": "ééééé"}, {"t": "e\u0301", "vc": "e\u0301e\u0301"}, {"t": '"日本,語"', "vc": '"🚀🚀🚀🚀🚀"'}],
    "varchar_cuts_spaces_past_its_length": [{"vc": "abcde   "}, {"vc": '"ab   "'}, {"vc": "abc      "}, {"vc": '"日本語五字  "'}],
    "exact_text_columns_hold_postgresql_text": [
        {"iv": "1 day 2 hours", "js": '"{""b"":1,""a"":[1.50,null]}"', "ai": '"{1,2,NULL}"'},
        {"iv": "26:00:00", "js": '" [1, 2] "', "ai": '"{ 3 , 4 }"'}, {"iv": "P1DT2H", "js": '"""x"""', "ai": "{}"},
        {"iv": "-1 year +2 mons", "js": "12345678901234567890.10", "ai": '"{-1,+2}"'}],
}


@pytest.mark.parametrize("case", list(ACCEPTED))
def test_an_edge_case_holds_what_copy_reads(lab, case):
    assert_same(lab, ACCEPTED[case])


# --- Files COPY refuses: the backfill refuses them too, by line and column -----------------

REFUSED = {
    "quoted_empty_for_an_integer": ({"i4": '""'}, "column 'i4'"),
    "the_text_NULL_for_an_integer": ({"i4": "NULL"}, "column 'i4'"),
    "a_fraction_for_an_integer": ({"i4": "1.5"}, "column 'i4'"),
    "a_varchar_too_long": ({"vc": "abcdef"}, "column 'vc'"),
    "a_day_that_does_not_exist": ({"d": "2024-02-30"}, "column 'd'"),
    "year_zero": ({"d": "0000-01-01"}, "column 'd'"),
    "a_leap_second_with_a_fraction": ({"tsn": "2024-01-02 23:59:60.5"}, "column 'tsn'"),
    "numeric_overflow": ({"n": "123456789.1"}, "column 'n'"),
    "real_overflow": ({"f4": "3.5e38"}, "column 'f4'"),
    "a_boolean_o": ({"b": "o"}, "column 'b'"),
    "invalid_jsonb": ({"js": "{bad"}, "column 'js'"),
    "an_empty_key": ({"id": ""}, "column 'id'"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_bad_value_is_refused_by_both(lab, case):
    row, fragment = REFUSED[case]
    ids = lab.fresh_ids(2)
    error = assert_both_refuse(lab, csv_text([{"t": "fine"}, row], ids), ids)
    assert fragment in error and "line 3 (data row 2)" in error, error


def _lines(ids: list[int]) -> list[str]:
    """The header and two rows (t = r0, r1) of a good file, without line ends."""
    return csv_text([{"t": "r0"}, {"t": "r1"}], ids).split("\n")[:3]


LAYOUTS = {
    "a_row_with_an_extra_field": (lambda h, a, b: f"{h}\n{a}\n{b},x\n", "line 3"),
    "a_row_with_a_field_missing": (lambda h, a, b: f"{h}\n{a}\n{b.rsplit(',', 1)[0]}\n", "line 3"),
    "a_blank_line": (lambda h, a, b: f"{h}\n{a}\n\n{b}\n", "line 3"),
    "a_blank_last_line": (lambda h, a, b: f"{h}\n{a}\n{b}\n\n", "line 4"),
    "an_unterminated_quote": (lambda h, a, b: f"{h}\n{a}\n{b.replace('r1', chr(34) + 'r1')}\n", "line 3"),
    "mixed_line_ends": (lambda h, a, b: f"{h}\r\n{a}\n{b}\r\n", "line 2"),
    "a_bare_carriage_return": (lambda h, a, b: f"{h}\n{a.replace('r0', 'r' + chr(13) + '0')}\n{b}\n", "line 2"),
    "a_nul_byte": (lambda h, a, b: f"{h}\n{a.replace('r0', 'r' + chr(0) + '0')}\n{b}\n", "line 2"),
    "bytes_that_are_not_utf8": (lambda h, a, b: f"{h}\n{a}\n{b}\n".encode().replace(b"r0", b"r\xe90"), "line 2"),
}


@pytest.mark.parametrize("case", list(LAYOUTS))
def test_a_bad_layout_is_refused_by_both(lab, case):
    make, line = LAYOUTS[case]
    ids = lab.fresh_ids(2)
    error = assert_both_refuse(lab, make(*_lines(ids)), ids)
    assert line in error, error


# --- What COPY reads and the backfill refuses, naming the line and the fix -----------------
# DuckDB's reader cannot read these as PostgreSQL does (it drops spaces around a quoted field,
# reads past a line \.), or the lake's type cannot hold the value, or hotcold reads only the
# ISO forms of dates and times.

HOTCOLD_REFUSES_LAYOUT = {
    "spaces_before_an_opening_quote": (lambda h, a, b: f"{h}\n{a}\n{b.replace(',r1,', ', ' + chr(34) + 'r1' + chr(34) + ',')}\n",
                                       "line 3: field 3 (column 't') has spaces before its opening quote"),
    "text_after_a_closing_quote": (lambda h, a, b: f"{h}\n{a}\n{b.replace(',r1,', ',' + chr(34) + 'r' + chr(34) + '1,')}\n",
                                   "line 3: field 3 (column 't') has '1' after its closing quote"),
    "a_quote_inside_an_unquoted_field": (lambda h, a, b: f"{h}\n{a}\n{b.replace(',r1,', ',r' + chr(34) + '1' + chr(34) + ',')}\n",
                                         "line 3: field 3 (column 't') has a quote inside it"),
    "a_line_backslash_dot": (lambda h, a, b: f"{h}\n{a}\n\\.\n{b}\n", "line 3: it is \\. alone"),
}
HOTCOLD_REFUSES_VALUE = {
    "a_hex_float": ("f8", "0x1p3"),
    "a_date_with_a_month_name": ("d", "Jan 2 2024"),
    "a_named_time_zone": ("tsz", "2024-01-02 10:00 America/New_York"),
    "nan_in_a_numeric_with_a_scale": ("n", "NaN"),
}


def test_zeros_of_both_signs_in_a_float_column_are_refused_by_line_and_column(lab):
    # DuckDB's Parquet writer keeps one sign of zero per dictionary-encoded column chunk
    # (duckdb#25781): -0 beside 0 would become 0 (or 0 become -0) without a word.
    ids = lab.fresh_ids(3)
    _hotcold_alone_refuses(lab, csv_text([{"f8": "0"}, {"f8": "1"}, {"f8": "-0"}], ids), ids,
                           "line 4 (data row 3): column 'f8' holds -0, and this file holds 0 too")


def _hotcold_alone_refuses(lab, text, ids, expect):
    pg_error, hc_error = load_both(lab, text, ids)
    assert pg_error is None, f"COPY refuses this too ({pg_error}): move the case to the refused ones"
    assert hc_error is not None and len(hc_error.splitlines()) == 1 and "input.csv" in hc_error, hc_error
    assert expect in hc_error, hc_error


@pytest.mark.parametrize("case", list(HOTCOLD_REFUSES_LAYOUT))
def test_a_layout_duckdb_reads_otherwise_is_refused_by_line(lab, case):
    make, expect = HOTCOLD_REFUSES_LAYOUT[case]
    ids = lab.fresh_ids(2)
    _hotcold_alone_refuses(lab, make(*_lines(ids)), ids, expect)


@pytest.mark.parametrize("case", list(HOTCOLD_REFUSES_VALUE))
def test_a_value_hotcold_cannot_read_as_copy_does_is_refused_by_line_and_column(lab, case):
    column, value = HOTCOLD_REFUSES_VALUE[case]
    ids = lab.fresh_ids(2)
    _hotcold_alone_refuses(lab, csv_text([{"t": "r0"}, {column: value}], ids), ids, f"line 3 (data row 2): column '{column}' holds '{value}'")


# --- Random files: every value of every column, as COPY reads it, or both refuse -----------

WS = st.sampled_from(["", "", "", " ", "  ", "\t"])
TEXT = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")


def _int_text(lo, hi, values):
    return st.builds(lambda v, plus, zeros, a, b: f"{a}{'+' if plus and v >= 0 else ''}{'-' if v < 0 else ''}{'0' * zeros}{abs(v)}{b}",
                     values, st.booleans(), st.integers(0, 2), WS, WS)


def _ints(lo, hi):
    return _int_text(lo, hi, st.integers(lo, hi) | st.sampled_from([lo, hi, 0]))


def _decimal(whole, exps):
    return st.builds(lambda sign, w, frac, exp, a, b: f"{a}{sign}{w}{'.' + frac if frac is not None else ''}{exp}{b}",
                     st.sampled_from(["", "-", "+"]), st.from_regex(r"[0-9]{1,%d}" % whole, fullmatch=True),
                     st.none() | st.from_regex(r"[0-9]{0,9}", fullmatch=True), st.sampled_from(exps), WS, WS)


def _float(width, exp):
    return (st.floats(width=width, allow_nan=False, allow_infinity=False).map(repr)
            | st.builds(lambda m, e: f"{m}e{e}", st.from_regex(r"-?[0-9]\.[0-9]{1,25}", fullmatch=True), st.integers(-exp, exp))
            | st.sampled_from(["NaN", "-nan", "Infinity", "-inf", "+inf", "-0", ".5", "5.", "+1E3"]))


def _date(days=st.integers(1, 28)):
    return st.builds(lambda y, m, d: f"{y:04d}-{m}-{d:02d}", st.integers(1, 9999) | st.just(2024), st.integers(1, 12).map(lambda m: f"{m:0{1 + m % 2}d}"), days)


def _time(hours=st.integers(0, 23), minutes=st.integers(0, 59), seconds=st.integers(0, 59)):
    return st.builds(lambda h, mi, s, frac: f"{h:02d}:{mi:02d}" + (f":{s:02d}" if s is not None else "") + (f".{frac}" if frac is not None and s is not None else ""),
                     hours, minutes, st.none() | seconds, st.none() | st.from_regex(r"[0-9]{0,9}", fullmatch=True))


def _stamp(date, time, zones):
    return (st.builds(lambda d, sep, t, z: f"{d}{sep}{t}{z}", date, st.sampled_from([" ", "T", "t", "  "]), time, st.sampled_from(zones))
            | date | st.sampled_from(["infinity", "-infinity", "epoch"]))


ZONES = ["", "", "Z", "z", "+00", "-05", "+05:30", "+0530", " +02", "-15:59", " UTC", "+5", "-03:00:30"]
EXACT = {
    "iv": ["1 day", "26 hours", "P1Y2M", "-1 day +02:03:04.5", "1 mon 2 days", "00:00:00.0000005", "@ 1 minute ago"],
    "js": ['{"a":1}', '[1, 2.50, null]', '"text"', "12.0", "null", '{"a": {"b": []}}', '{"b":1, "a":2}'],
    "ai": ["{1,2,3}", "{}", "{NULL}", "{ -1 , +2 }", "{{1,2},{3,4}}"],
}
# Values both should read...
VALID = {
    "t": st.text(TEXT, max_size=12), "vc": st.text(st.sampled_from("abé日 ,\"\n"), max_size=5).map(lambda v: v + " " * (len(v) % 3)),
    "i4": _ints(-2**31, 2**31 - 1), "i8": _ints(-2**63, 2**63 - 1), "i2": _ints(-2**15, 2**15 - 1),
    "n": _decimal(6, ["", "", "e2", "E-3", "e+1", "e-20"]), "f8": _float(64, 300), "f4": _float(32, 37),
    "b": st.sampled_from(["t", "f", "true", "false", "yes", "no", "on", "off", "1", "0", "T", "YES", "Of", "tru", "y", "n"]).flatmap(lambda b: st.builds(lambda a, c: f"{a}{b}{c}", WS, WS)),
    **{c: _stamp(_date(), _time(), ZONES) for c in ("d", "tsz", "tsn", "ts3")},
    **{c: st.sampled_from(v) for c, v in EXACT.items()},
}
# ...and anything near them, which one or both may refuse.
WILD = {
    "t": st.text(TEXT, max_size=12), "vc": st.text(st.sampled_from("ab日 "), max_size=8),
    "i4": _int_text(0, 0, st.integers(-2**31 - 3, 2**31 + 2)) | st.sampled_from(["1.5", "1e3", "NULL", "", "5 5", "--1", "x"]),
    "i8": _int_text(0, 0, st.integers(-2**63 - 3, 2**63 + 2)), "i2": _int_text(0, 0, st.integers(-2**15 - 3, 2**15 + 2)),
    "n": _decimal(12, ["e9", "e-9999", "e5", ""]) | st.sampled_from(["Infinity", "-inf", "1e", ".", "1.2.3", "1e2.5"]),
    "f8": _float(64, 400) | st.sampled_from(["1e-400", "2e-324", "3e-324", "1e309", "abc", "1,5", "1e", "--1"]),
    "f4": _float(64, 50) | st.sampled_from(["3.4028236e38", "1e-46", "1e-45", "3.5e38"]),
    "b": st.sampled_from(["o", "2", "maybe", "truex", "", "yes!", "nope"]),
    **{c: _stamp(_date(st.integers(0, 32)) | st.sampled_from(["0000-01-01", "2024-13-01", "2024-02-30"]),
                 _time(st.integers(0, 25), st.integers(0, 60), st.integers(0, 61)), ZONES + ["+16", "+15:60", "+1:2:3"])
       for c in ("d", "tsz", "tsn", "ts3")},
    "iv": st.sampled_from(["forever", "1 fortnight", "1 day 1 day"]), "js": st.sampled_from(["{bad", "tru", "[1,]", "{'a': 1}"]),
    "ai": st.sampled_from(["{1,x}", "{{1},{2,3}}", "1,2", "{1,2"]),
}


def _field(value: str, quote: bool) -> str:
    """The value as a CSV field: quoted when it must be (or when asked), else as it is."""
    if quote or value == "" or any(c in value for c in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


@st.composite
def random_rows(draw):
    """1-6 rows of valid values for a random set of columns, and in half the files one wild
    value."""
    rows = []
    for _ in range(draw(st.integers(1, 6))):
        columns = draw(st.sets(st.sampled_from(list(VALID)), min_size=1, max_size=len(VALID)))
        rows.append({c: _field(draw(VALID[c]), draw(st.booleans())) for c in sorted(columns)})
    if draw(st.booleans()):
        row, column = draw(st.sampled_from(range(len(rows)))), draw(st.sampled_from(sorted(WILD)))
        rows[row][column] = _field(draw(WILD[column]), draw(st.booleans()))
    return rows


@pytest.mark.slow
@settings(max_examples=10, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(rows=random_rows())
def test_random_files_hold_what_copy_reads(lab, rows):
    ids = lab.fresh_ids(len(rows))
    pg_error, hc_error = load_both(lab, csv_text(rows, ids), ids)
    if pg_error is None and hc_error is not None and "keeps one sign of zero" in hc_error:
        return  # -0 beside 0 in a float column: refused by name (test_zeros_of_both_signs...)
    assert (pg_error is None) == (hc_error is None), f"COPY: {pg_error}; backfill: {hc_error}"
    if pg_error is None:
        assert differences(lab, ids) == []


# --- Last, the files whose header or line end change the backfill's dbt vars (dbt parses again) --

def test_a_header_in_another_order_maps_by_name(lab):
    header = list(reversed(NAMES))
    assert_same(lab, [{"t": "x", "i4": "1", "d": "2024-01-02"}, {"t": "y", "f8": "2.5", "js": "[]"}], header=header)


def test_crlf_line_ends(lab):
    assert_same(lab, [{"t": '"a\r\nb"'}, {"t": '"c\nd"', "i4": "5"}, {"t": "plain"}], eol="\r\n")


def test_a_header_naming_other_columns_is_refused_by_both(lab):
    ids = lab.fresh_ids(1)
    header = ["id", "ts", "nope"] + NAMES[3:]
    error = assert_both_refuse(lab, csv_text([{"nope": "x"}], ids, header), ids, header)
    assert "missing t;" in error and "unexpected nope" in error, error
