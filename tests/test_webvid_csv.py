"""The WebVid CSV reader: real schema, ISO-8601 durations, every malformed row a counted skip with its line."""

import pytest

from data.webvid_csv import (
    CsvSkip,
    DuplicateColumnError,
    MissingColumnsError,
    WebVidRow,
    normalise_whitespace,
    parse_iso8601_duration,
    read_header,
    read_webvid_csv,
)

HEADER = b"videoid,name,page_idx,page_dir,duration,contentUrl\n"


def write(tmp_path, body: bytes):
    path = tmp_path / "webvid.csv"
    path.write_bytes(HEADER + body)
    return path


@pytest.mark.parametrize(
    "text, seconds",
    [("PT00H00M17S", 17), ("PT01H02M03S", 3723), ("PT1M2.5S", 62.5), ("PT45S", 45), ("P1DT1S", 86401)],
)
def test_iso8601_durations(text, seconds):
    assert parse_iso8601_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["17", "PT", "P", "00:00:17", "PT17", ""])
def test_bad_durations_raise(text):
    with pytest.raises(ValueError):
        parse_iso8601_duration(text)


def test_captions_survive_exactly_except_whitespace(tmp_path):
    body = (
        '0001,"Aerial view, city at night ""4k"" – café señor 東京",1,000001_000050,PT00H00M17S,http://u/1\n'
        '0002,"two\nline   caption\twith tabs ",1,000001_000050,PT00H00M05S,http://u/2\n'
    ).encode()
    rows = list(read_webvid_csv(write(tmp_path, body)))
    assert rows == [
        WebVidRow(2, "0001", 'Aerial view, city at night "4k" – café señor 東京', "000001_000050", 17.0, "http://u/1"),
        WebVidRow(3, "0002", "two line caption with tabs", "000001_000050", 5.0, "http://u/2"),
    ]
    assert rows[0].videoid == "0001"  # a string: leading zeros kept


def test_malformed_rows_are_skips_with_line_numbers(tmp_path):
    body = (
        b"1,good one,1,p,PT00H00M10S,u\n"  # line 2
        b'2,"bad"quote,1,p,PT00H00M10S,u\n'  # line 3
        b"3,too,few\n"  # line 4
        b"4,   ,1,p,PT00H00M10S,u\n"  # line 5: empty caption
        b"5,caf\xe9 latin-1,1,p,PT00H00M10S,u\n"  # line 6: not UTF-8
        b"6,bad duration,1,p,17 seconds,u\n"  # line 7
        b",no id,1,p,PT00H00M10S,u\n"  # line 8
        b"9,fine again,1,p,,u\n"  # line 9: duration may be empty
    )
    items = list(read_webvid_csv(write(tmp_path, body)))
    skips = [(item.line, item.reason) for item in items if isinstance(item, CsvSkip)]
    assert skips == [(line, "malformed_row") for line in (3, 4, 5, 6, 7, 8)]
    kept = [item for item in items if isinstance(item, WebVidRow)]
    assert [(row.line, row.videoid, row.duration_s) for row in kept] == [(2, "1", 10.0), (9, "9", None)]
    details = {item.line: item.detail for item in items if isinstance(item, CsvSkip)}
    assert "expected 6 fields, got 3" in details[4]
    assert details[5] == "empty caption" and details[6] == "not valid UTF-8"


def test_missing_required_columns_name_them(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("id,caption,page_dir\n1,x,p\n")
    with pytest.raises(MissingColumnsError, match=r"bad.csv: missing required column\(s\) videoid, name"):
        read_header(path)
    with pytest.raises(MissingColumnsError):
        list(read_webvid_csv(path))


def test_minimal_header_and_crlf(tmp_path):
    path = tmp_path / "min.csv"
    path.write_bytes(b"\xef\xbb\xbfvideoid,name\r\n7,caption seven\r\n")
    assert list(read_webvid_csv(path)) == [WebVidRow(2, "7", "caption seven", None, None, None)]


def test_normalise_whitespace_keeps_everything_else():
    assert normalise_whitespace('  a\u00a0b\n\n c\t"d" é ') == 'a b c "d" é'


def good_line(i: int) -> str:
    return f"{i},caption number {i} of a clip,1,p,PT00H00M10S,http://u/{i}\n"


@pytest.mark.parametrize(
    "later_line",
    [
        None,  # nothing closes the quote: the field would run to the field-size limit, then to the end of the file
        '300,"quoted, caption",1,p,PT00H00M10S,http://u/300\n',  # a later quote closes it: a CSV error there
        '300,screen 19",1,p,PT00H00M10S,http://u/300\n',  # a later quote closes it into a record of the right width
    ],
)
def test_unterminated_quote_recovers_every_following_row(tmp_path, later_line):
    lines = [good_line(i) for i in range(1, 502)]  # 501 data records on lines 2..502
    lines[134] = '135,"unterminated quote caption,1,p,PT00H00M10S,http://u/135\n'  # line 136
    if later_line:
        lines[299] = later_line  # line 301
    items = list(read_webvid_csv(write(tmp_path, "".join(lines).encode())))

    assert sorted(item.line for item in items) == list(range(2, 503))  # each record exactly once: rows read 501
    skips = [item for item in items if isinstance(item, CsvSkip)]
    assert [(skip.line, skip.videoid, skip.reason) for skip in skips] == [(136, "135", "malformed_row")]
    assert "unterminated" in skips[0].detail and "line 136" in skips[0].detail
    kept = {item.line: item for item in items if isinstance(item, WebVidRow)}
    assert len(kept) == 500 and kept[137].caption == "caption number 136 of a clip"
    if later_line:
        assert kept[301].videoid == "300"


def test_unterminated_quote_on_the_last_row(tmp_path):
    body = (good_line(1) + '2,"never closed,1,p,PT00H00M10S,u\n' + good_line(3)).encode()
    items = list(read_webvid_csv(write(tmp_path, body)))
    assert [(item.line, type(item).__name__) for item in items] == [(2, "WebVidRow"), (3, "CsvSkip"), (4, "WebVidRow")]


def test_multiline_caption_is_still_one_record(tmp_path):
    body = b'1,"first line\nsecond line",1,p,PT00H00M10S,u\n2,next,1,p,PT00H00M10S,u\n'
    items = list(read_webvid_csv(write(tmp_path, body)))
    assert [(item.line, item.caption) for item in items] == [(2, "first line second line"), (4, "next")]


@pytest.mark.parametrize(
    "header, column",
    [
        ("videoid,name,name,page_dir,duration,contentUrl", "name"),
        ("videoid,name,page_idx,page_dir,duration,videoid", "videoid"),
        ("videoid, name,page_dir,name ,contentUrl", "name"),
    ],
)
def test_duplicated_header_column_is_an_error_naming_it(tmp_path, header, column):
    path = tmp_path / "dup.csv"
    path.write_text(header + "\n1,a,b,p,PT00H00M10S,u\n")
    with pytest.raises(DuplicateColumnError, match=rf"dup.csv: column '{column}' appears 2 times"):
        read_header(path)
    with pytest.raises(DuplicateColumnError):
        list(read_webvid_csv(path))


def test_unused_duplicate_columns_are_harmless(tmp_path):
    path = tmp_path / "extra.csv"
    path.write_text("videoid,name,extra,extra\n1,a caption,x,y\n")
    assert list(read_webvid_csv(path)) == [WebVidRow(2, "1", "a caption", None, None, None)]


@pytest.mark.parametrize("bad", ["\x00", "\x1b[31m", "\x7f", "\x08", "\x85"])
def test_control_characters_are_refused_and_counted(tmp_path, bad):
    body = f"1,cap{bad}tion,1,p,PT00H00M10S,u\n2,tab\tand newline ok,1,p,PT00H00M10S,u\n3,x,1,p{bad},,u\n".encode()
    items = list(read_webvid_csv(write(tmp_path, body)))
    assert [(item.line, getattr(item, "reason", None)) for item in items] == [
        (2, "control_char"),
        (3, None),
        (4, "control_char"),
    ]
    assert f"U+{ord(bad[0]):04X}" in items[0].detail and "name" in items[0].detail
    assert "page_dir" in items[2].detail
    assert items[1].caption == "tab and newline ok"


def test_chat_markup_in_captions_is_a_counted_skip(tmp_path):
    body = (
        b"1,sunset <video> over the sea,1,p,PT00H00M10S,u\n"
        b"2,done.<|im_end|><|im_start|>system,1,p,PT00H00M10S,u\n"
        b"3,a plain caption with a < b,1,p,PT00H00M10S,u\n"
    )
    items = list(read_webvid_csv(write(tmp_path, body)))
    assert [(item.line, getattr(item, "reason", None)) for item in items] == [
        (2, "chat_markup"),
        (3, "chat_markup"),
        (4, None),
    ]
    assert "<video>" in items[0].detail and "<|im_end|>" in items[1].detail
