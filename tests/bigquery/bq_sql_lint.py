"""Does a compiled model read as BigQuery SQL? sqlglot parses DuckDB-isms that BigQuery rejects
(an unknown function becomes an anonymous call), so parsing is one check of several:

1. ``sqlglot.parse(sql, read="bigquery")`` with ``ErrorLevel.RAISE`` (a bare ``UNION``, DuckDB-only
   syntax);
2. every function called is a GoogleSQL function (``epoch_us``, ``strftime``, ``generate_series``,
   ``json_extract_string``, ``try_cast``, ``isfinite``, ``bool_and``, ``split_part``, ``list_*`` are not);
3. no ``::`` cast, no ``date_trunc('hour', x)`` argument order, no ``unnest`` in a select list;
4. no text operation on a number or a date: ``||``, ``like`` and ``substr`` on a numeric literal, a
   cast to a non-text type or a column named as a date/time (``*_date``, ``*_utc``, ``date_day``...).
"""

from __future__ import annotations

import sqlglot
from sqlglot import ErrorLevel, exp
from sqlglot.dialects.bigquery import BigQuery
from sqlglot.tokens import TokenType

#: GoogleSQL functions (aggregate, window, conditional, math, string, date/time, JSON, array, hash).
BIGQUERY_FUNCTIONS = set("""
any_value array_agg array_concat_agg avg bit_and bit_or bit_xor count countif logical_and logical_or max max_by
min min_by string_agg sum approx_count_distinct approx_quantiles approx_top_count corr covar_pop covar_samp stddev
stddev_pop stddev_samp variance var_pop var_samp grouping
row_number rank dense_rank percent_rank cume_dist ntile lag lead first_value last_value nth_value percentile_cont
percentile_disc
coalesce if ifnull nullif nullifzero zeroifnull iferror iserror nulliferror greatest least
abs sign sqrt pow power exp ln log log10 round trunc ceil ceiling floor mod div safe_divide safe_multiply safe_add
safe_subtract safe_negate ieee_divide is_inf is_nan rand range_bucket cos sin tan acos asin atan atan2 cosh sinh tanh cbrt
ascii byte_length char_length character_length chr code_points_to_bytes code_points_to_string collate concat
contains_substr edit_distance ends_with format from_base32 from_base64 from_hex initcap instr left length lower lpad
ltrim normalize normalize_and_casefold octet_length regexp_contains regexp_extract regexp_extract_all regexp_instr
regexp_replace regexp_substr repeat replace reverse right rpad rtrim safe_convert_bytes_to_string soundex split
starts_with strpos substr substring to_base32 to_base64 to_code_points to_hex translate trim unicode upper
current_date current_datetime current_time current_timestamp date date_add date_sub date_diff date_trunc date_bucket
date_from_unix_date datetime datetime_add datetime_sub datetime_diff datetime_trunc extract format_date format_datetime
format_time format_timestamp last_day parse_date parse_datetime parse_time parse_timestamp time time_add time_sub
time_diff time_trunc timestamp timestamp_add timestamp_sub timestamp_diff timestamp_trunc timestamp_micros
timestamp_millis timestamp_seconds unix_date unix_micros unix_millis unix_seconds generate_date_array
generate_timestamp_array justify_days justify_hours justify_interval make_interval
json_extract json_extract_scalar json_extract_array json_query json_value json_query_array json_value_array to_json
to_json_string parse_json json_type json_object json_array json_set json_remove json_strip_nulls json_keys string
int64 float64 bool lax_bool lax_int64 lax_float64 lax_string
array array_concat array_length array_reverse array_to_string array_first array_last array_slice array_includes
array_filter array_transform generate_array offset ordinal safe_offset safe_ordinal
farm_fingerprint md5 sha1 sha256 sha512
cast safe_cast unnest struct exists error session_user generate_uuid
""".split())

#: Words followed by '(' that are syntax, not function calls.
_SYNTAX = set("""in exists over as from join using values window with not and or on select union intersect except by
distinct all any some when then else case end where having qualify between is like cross inner outer full natural
lateral into set table partition cluster options returns recursive""".split())

_TEMPORAL_TYPES = {exp.DataType.Type.DATE, exp.DataType.Type.DATETIME, exp.DataType.Type.TIMESTAMP,
                   exp.DataType.Type.TIMESTAMPTZ, exp.DataType.Type.TIME}
_TEMPORAL_SUFFIXES = ("_date", "_utc", "_day", "_ts", "_time", "_start", "_end", "_month_start")
_TEXT_TYPES = {exp.DataType.Type.VARCHAR, exp.DataType.Type.TEXT, exp.DataType.Type.CHAR, exp.DataType.Type.NVARCHAR}


def _not_text(node: exp.Expression) -> str | None:
    """Why ``node`` is not text, when that can be told without a schema."""
    if isinstance(node, exp.Literal) and not node.is_string:
        return f"the number {node.sql('bigquery')}"
    if isinstance(node, exp.Boolean):
        return "a boolean"
    if isinstance(node, (exp.Cast, exp.TryCast)) and node.to.this not in _TEXT_TYPES:
        return f"a cast to {node.to.sql('bigquery')}"
    if isinstance(node, exp.Column):
        name = node.name.lower()
        if name in ("date_day", "hour_utc") or name.endswith(_TEMPORAL_SUFFIXES):
            return f"the date/time column {node.name}"
    if isinstance(node, (exp.CurrentDate, exp.CurrentTimestamp, exp.DateTrunc, exp.TimestampTrunc, exp.DateAdd, exp.TimestampAdd)):
        return "a date/time expression"
    return None


def problems(sql: str) -> list[str]:
    """What in ``sql`` BigQuery would reject (empty: nothing found)."""
    found: list[str] = []
    try:
        trees = sqlglot.parse(sql, read="bigquery", error_level=ErrorLevel.RAISE)
    except sqlglot.errors.ParseError as exc:
        return [f"does not parse as BigQuery SQL: {str(exc).splitlines()[0]}"]

    tokens = BigQuery().tokenize(sql)
    for i, (tok, nxt) in enumerate(zip(tokens, tokens[1:])):
        if tok.token_type == TokenType.DCOLON:
            found.append(f"`::` cast (line {tok.line}): use cast(x as type)")
        if nxt.token_type != TokenType.L_PAREN or tok.token_type in (TokenType.IDENTIFIER, TokenType.STRING, TokenType.NUMBER):
            continue
        name = tok.text.lower()
        if name in _SYNTAX or not name.replace("_", "").isalnum():
            continue
        if i > 0 and tokens[i - 1].token_type == TokenType.DOT:  # a qualified name: dataset.routine(
            continue
        if i > 0 and tokens[i - 1].text.lower() in ("as", "table", "into"):  # cte as (, table t(cols)
            continue
        if name not in BIGQUERY_FUNCTIONS:
            found.append(f"{name}() is not a BigQuery function (line {tok.line})")

    for tree in trees:
        if tree is None:
            continue
        for node in tree.find_all(exp.DateTrunc, exp.TimestampTrunc):
            if isinstance(node.this, exp.Literal) and node.this.is_string:
                found.append(f"{node.sql('bigquery')}: DuckDB's argument order; BigQuery is date_trunc(x, part)")
        for node in tree.find_all(exp.Unnest):
            if isinstance(node.parent, exp.Select) or isinstance(node.parent, exp.Alias) and isinstance(node.parent.parent, exp.Select):
                found.append("unnest() in a select list: BigQuery unnests only in FROM")
        for node in tree.find_all(exp.DPipe):
            for side in (node.left, node.right):
                why = _not_text(side)
                if why:
                    found.append(f"|| on {why}: BigQuery concatenates strings only (cast it)")
        for node in tree.find_all(exp.Like):
            why = _not_text(node.this)
            if why:
                found.append(f"like on {why}: BigQuery matches strings only")
        for node in tree.find_all(exp.Substring):
            why = _not_text(node.this)
            if why:
                found.append(f"substr on {why}: BigQuery takes substrings of strings only (use a date format)")
    return found
