"""The built-in sdmx source against a local SDMX service serving real Istat/Eurostat messages.

Real messages come from the shared data folder (skipped when absent); the hermetic cases
use small synthetic messages written here.
"""

from __future__ import annotations

import shutil
import warnings

import pyarrow as pa
import pytest

from welfare_observatory.errors import ConfigError, FetchError, ParseError
from welfare_observatory.sdk import FetchContext, SourceWarning
from welfare_observatory.sources.http import HttpClient, HttpStatusError
from welfare_observatory.sources.sdmx import SdmxSource
from welfare_observatory.testing import Sample, SourceConformance

SS_NS = (
    'xmlns:m="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message" '
    'xmlns:s="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/data/structurespecific" '
    'xmlns:u="urn:sdmx:org.sdmx.infomodel.datastructure.DataStructure=TEST:DSD(1.0):ObsLevelDim:'
    'TIME_PERIOD" xmlns:c="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
)
SS_MESSAGE = f"""<?xml version="1.0" encoding="UTF-8"?>
<m:StructureSpecificData {SS_NS}>
  <m:Header><m:ID>T1</m:ID><m:Test>true</m:Test><m:Prepared>2024-01-01T00:00:00</m:Prepared>
    <m:Sender id="TEST"/>
    <m:Structure dimensionAtObservation="TIME_PERIOD" structureID="STR1">
      <c:StructureUsage><Ref id="POP" agencyID="TEST" version="1.0"/></c:StructureUsage>
    </m:Structure></m:Header>
  <u:DataSet s:structureRef="STR1" s:dataScope="DataStructure" xsi:type="u:DataSetType">
    <Series REF_AREA="096004" SEX="F" FREQ="A">
      <Obs TIME_PERIOD="2022" OBS_VALUE="22791" OBS_STATUS="A"/>
      <Obs TIME_PERIOD="2023" OBS_VALUE="22641" OBS_STATUS="P"/>
    </Series>
  </u:DataSet>
</m:StructureSpecificData>
""".encode()

CSV_MESSAGE = (
    b"DATAFLOW,FREQ,REF_AREA,SEX,TIME_PERIOD,OBS_VALUE,OBS_STATUS,NOTE\n"
    b"IT1:22_289(1.0),A,096004,F,2022,22791,,\n"
    b"IT1:22_289(1.0),A,096004,M,2022,20157,e,\n"
)

ERROR_MESSAGE = b"""<?xml version="1.0" encoding="UTF-8"?>
<message:Error xmlns:message="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message"
  xmlns:common="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common">
  <message:ErrorMessage code="150"><common:Text>Semantic Error - Invalid key</common:Text>
  </message:ErrorMessage></message:Error>"""


def make_ctx(tmp_path, **kwargs) -> FetchContext:
    http = HttpClient(rate_limits={}, retries=1, backoff=0.0, sleep=lambda s: None, timeout=2)
    (tmp_path / "obs").mkdir(exist_ok=True)
    return FetchContext.create(tmp_path / "cache", base_dir=tmp_path / "obs", http=http, **kwargs)


def fetch_parse(source: SdmxSource, ctx: FetchContext) -> pa.Table:
    [payload] = source.fetch(ctx)
    return source.parse(payload)


# -- real messages served by a local SDMX service ---------------------------------------------
def test_istat_dataflow_with_its_structure(tmp_path, server, shared_data):
    data = (shared_data / "sdmx_istat_22_289.xml").read_bytes()
    structure = (shared_data / "sdmx_istat_22_289-structure.xml").read_bytes()
    server.routes["/rest/dataflow/IT1/22_289/latest"] = [(200, {}, structure)]
    server.routes["/rest/data/22_289/A.IT.JAN"] = [(200, {}, data)]
    source = SdmxSource(
        "pop",
        {
            "url": f"{server.url}/rest",
            "agency": "IT1",
            "dataflow": "22_289",
            "key": "A.IT.JAN",
            "start_period": "2019",
        },
    )
    table = fetch_parse(source, make_ctx(tmp_path))
    assert table.column_names == [
        "FREQ",
        "REF_AREA",
        "DATA_TYPE",
        "SEX",
        "AGE",
        "MARITAL_STATUS",
        "TIME_PERIOD",
        "OBS_VALUE",
        "OBS_STATUS",
    ]
    assert table.num_rows == 8
    rows = table.filter(pa.compute.equal(table["SEX"], "1")).to_pylist()
    assert rows[0]["TIME_PERIOD"] == "2019" and rows[0]["OBS_VALUE"] == 29131195.0
    assert rows[-1]["OBS_STATUS"] == "e"  # 2022 is an estimate
    paths = [path for path, _ in server.seen]
    assert paths == [
        "/rest/dataflow/IT1/22_289/latest?references=datastructure",
        "/rest/data/22_289/A.IT.JAN?startPeriod=2019",
    ]
    assert server.seen[1][1]["User-Agent"].startswith("welfare-observatory/")
    assert "structurespecificdata" in server.seen[1][1]["Accept"]


def test_a_second_fetch_is_served_from_the_cache_and_works_offline(tmp_path, server, shared_data):
    server.routes["/rest/data/nama_10_gdp/A.CP_MEUR.B1GQ.LU"] = [
        (200, {}, (shared_data / "sdmx_estat_nama_10_gdp-ss.xml").read_bytes())
    ]
    options = {
        "url": f"{server.url}/rest",
        "dataflow": "nama_10_gdp",
        "key": "A.CP_MEUR.B1GQ.LU",
        "with_structure": False,
    }
    online = fetch_parse(SdmxSource("gdp", options), make_ctx(tmp_path))
    offline = fetch_parse(SdmxSource("gdp", options), make_ctx(tmp_path, offline=True))
    assert len(server.seen) == 1
    assert online.equals(offline)
    assert online.column_names == ["geo", "na_item", "unit", "freq", "TIME_PERIOD", "OBS_VALUE"]
    assert online["OBS_VALUE"].to_pylist() == [46526.2, 49094.5, 51791.3, 54142.3]


def test_istat_sdmx_csv(tmp_path, server, shared_data):
    server.routes["/rest/data/41_983"] = [
        (
            200,
            {"Content-Type": "text/csv"},
            (shared_data / "sdmx_istat_41_983_data.csv").read_bytes(),
        )
    ]
    source = SdmxSource(
        "accidents", {"url": f"{server.url}/rest", "dataflow": "41_983", "format": "csv"}
    )
    table = fetch_parse(source, make_ctx(tmp_path))
    assert table.column_names[:4] == ["FREQ", "ESITO", "ITTER107", "TIPO_DATO"]
    assert table["ITTER107"][0].as_py() == "082053"  # leading zero kept
    assert table.schema.field("OBS_VALUE").type == pa.float64()
    assert "BREAK" not in table.column_names  # attributes with no value anywhere are dropped
    assert "data+csv" in server.seen[0][1]["Accept"] and len(server.seen) == 1


def test_local_files_of_every_format(tmp_path, shared_data):
    ctx = make_ctx(tmp_path)
    for name in (
        "sdmx_istat_22_289.xml",
        "sdmx_istat_22_289-structure.xml",
        "sdmx_ecb_exr_ts.json",
        "sdmx_istat_41_983_data.csv",
    ):
        shutil.copy(shared_data / name, ctx.base_dir / name)
    xml = SdmxSource(
        "a", {"path": "sdmx_istat_22_289.xml", "structure_path": "sdmx_istat_22_289-structure.xml"}
    )
    assert fetch_parse(xml, ctx).num_rows == 8
    json_table = fetch_parse(SdmxSource("b", {"path": "sdmx_ecb_exr_ts.json"}), ctx)
    assert {"CURRENCY", "TIME_PERIOD", "OBS_VALUE"} <= set(json_table.column_names)
    assert fetch_parse(SdmxSource("c", {"path": "sdmx_istat_41_983_data.csv"}), ctx).num_rows == 18


def test_a_local_structure_is_read_where_it_is_and_must_not_change_after_the_fetch(
    tmp_path, shared_data
):
    """A local file is not copied into the cache: the data payload names the structure
    file, and parse reads it there only if it still hashes to what the fetch read."""
    ctx = make_ctx(tmp_path)
    shutil.copy(shared_data / "sdmx_istat_22_289.xml", ctx.base_dir / "d.xml")
    shutil.copy(shared_data / "sdmx_istat_22_289-structure.xml", ctx.base_dir / "s.xml")
    source = SdmxSource("pop", {"path": "d.xml", "structure_path": "s.xml"})
    (payload,) = source.fetch(ctx)
    assert payload.meta["structure_file"] == str((ctx.base_dir / "s.xml").resolve())
    assert not (ctx.cache.root / "objects").exists()
    assert source.parse(payload).num_rows == 8
    with (ctx.base_dir / "s.xml").open("ab") as handle:
        handle.write(b"\n")
    with pytest.raises(ParseError, match="changed since it was fetched") as info:
        source.parse(payload)
    assert info.value.location.source == "pop" and "build again" in info.value.hint
    (ctx.base_dir / "s.xml").unlink()
    with pytest.raises(ParseError, match="cannot be read"):
        source.parse(payload)


def test_structure_specific_data_without_its_structure_is_a_parse_error(tmp_path, shared_data):
    ctx = make_ctx(tmp_path)
    shutil.copy(shared_data / "sdmx_istat_22_289.xml", ctx.base_dir / "d.xml")
    source = SdmxSource("pop", {"path": "d.xml"})
    with pytest.raises(ParseError) as info:
        fetch_parse(source, ctx)
    assert info.value.location.source == "pop" and info.value.location.file == "d.xml"
    assert "structure_path" in info.value.hint


# -- quirks and bad answers (hermetic) ---------------------------------------------------------
def remote(server, **extra) -> SdmxSource:
    options = {
        "url": f"{server.url}/rest",
        "dataflow": "22_289",
        "key": "A.096004",
        "with_structure": False,
        **extra,
    }
    return SdmxSource("pop", options)


def test_no_records_is_an_empty_table_with_a_warning(tmp_path, server):
    server.routes["/rest/data/22_289/A.096004"] = [(404, {}, b"Not Found - NoRecordsFound")]
    source = remote(server)
    [payload] = source.fetch(make_ctx(tmp_path))
    with pytest.warns(SourceWarning, match="no records"):
        table = source.parse(payload)
    assert table.num_rows == 0 and "OBS_VALUE" in table.column_names


def test_another_404_is_a_fetch_error(tmp_path, server):
    server.routes["/rest/data/22_289/A.096004"] = [(404, {}, b"Dataflow not found")]
    with pytest.raises(HttpStatusError) as info:
        remote(server).fetch(make_ctx(tmp_path))
    assert info.value.status == 404 and "22_289" in str(info.value)


def test_an_sdmx_error_message_is_reported_with_the_servers_text(tmp_path, server):
    server.routes["/rest/data/22_289/A.096004"] = [(400, {}, ERROR_MESSAGE)]
    with pytest.raises(FetchError, match=r"\[150\] Semantic Error - Invalid key") as info:
        remote(server).fetch(make_ctx(tmp_path))
    assert info.value.location.source == "pop"


def test_an_sdmx_error_message_with_status_200_is_a_parse_error(tmp_path, server):
    server.routes["/rest/data/22_289/A.096004"] = [(200, {}, ERROR_MESSAGE)]
    source = remote(server)
    [payload] = source.fetch(make_ctx(tmp_path))
    with pytest.raises(ParseError, match="Invalid key"):
        source.parse(payload)


def test_server_errors_are_retried_then_reported(tmp_path, server):
    server.routes["/rest/data/22_289/A.096004"] = [(500, {}, b"oops"), (200, {}, SS_MESSAGE)]
    assert fetch_parse(remote(server), make_ctx(tmp_path)).num_rows == 2
    server.routes["/rest/data/22_289/A.096004"] = [(500, {}, b"still broken")]
    with pytest.raises(HttpStatusError, match="HTTP 500"):
        remote(server).fetch(make_ctx(tmp_path, refresh=True))


def test_a_service_that_hangs_is_a_fetch_error_naming_the_url(tmp_path, server):
    import time

    def hang(handler):
        time.sleep(1.0)
        return 200, {}, SS_MESSAGE

    server.routes["/rest/data/22_289/A.096004"] = hang
    http = HttpClient(rate_limits={}, retries=1, backoff=0.0, sleep=lambda s: None, timeout=0.2)
    ctx = FetchContext.create(tmp_path / "cache", http=http)
    with pytest.raises(FetchError) as info:
        remote(server).fetch(ctx)
    assert "/rest/data/22_289/A.096004" in str(info.value)
    assert info.value.location.source == "pop" and "timeout" in info.value.hint


def test_truncated_xml_names_the_source_and_the_url(tmp_path, server):
    server.routes["/rest/data/22_289/A.096004"] = [(200, {}, SS_MESSAGE[: len(SS_MESSAGE) // 2])]
    source = remote(server)
    [payload] = source.fetch(make_ctx(tmp_path))
    with pytest.raises(ParseError) as info:
        source.parse(payload)
    assert info.value.location.source == "pop"
    assert info.value.location.file == f"{server.url}/rest/data/22_289/A.096004"
    assert "truncated" in info.value.hint


def test_external_entities_are_never_expanded(tmp_path, capsys):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    evil = SS_MESSAGE.replace(
        b'<?xml version="1.0" encoding="UTF-8"?>',
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<!DOCTYPE m [<!ENTITY leak SYSTEM "' + secret.as_uri().encode() + b'">]>',
    ).replace(b'OBS_STATUS="A"', b'OBS_STATUS="&leak;"')
    ctx = make_ctx(tmp_path)
    (ctx.base_dir / "evil.xml").write_bytes(evil)
    source = SdmxSource("pop", {"path": "evil.xml"})
    with pytest.raises(ParseError, match="DOCTYPE") as info:
        fetch_parse(source, ctx)
    out = capsys.readouterr()
    assert "TOP-SECRET" not in str(info.value) + (info.value.hint or "") + out.out + out.err


def test_an_error_body_with_entities_is_not_parsed(tmp_path, server):
    evil = ERROR_MESSAGE.replace(
        b"<message:Error", b'<!DOCTYPE x [<!ENTITY a SYSTEM "file:///etc/passwd">]>\n<message:Error'
    ).replace(b"Semantic Error", b"&a;")
    server.routes["/rest/data/22_289/A.096004"] = [(400, {}, evil)]
    with pytest.raises(FetchError, match="DOCTYPE") as info:
        remote(server).fetch(make_ctx(tmp_path))
    assert "root:" not in str(info.value)


def test_entity_declarations_in_a_structure_file_are_refused(tmp_path, shared_data):
    ctx = make_ctx(tmp_path)
    shutil.copy(shared_data / "sdmx_istat_22_289.xml", ctx.base_dir / "d.xml")
    (ctx.base_dir / "s.xml").write_bytes(
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>'
    )
    with pytest.raises(ParseError, match="DOCTYPE"):
        fetch_parse(SdmxSource("pop", {"path": "d.xml", "structure_path": "s.xml"}), ctx)


def test_a_non_numeric_csv_value_names_the_row_and_column(tmp_path):
    ctx = make_ctx(tmp_path)
    (ctx.base_dir / "d.csv").write_bytes(CSV_MESSAGE + b"IT1:22_289(1.0),A,096005,F,2022,n.d.,,\n")
    with pytest.raises(ParseError) as info:
        fetch_parse(SdmxSource("pop", {"path": "d.csv"}), ctx)
    assert info.value.location.column == "OBS_VALUE"
    assert (info.value.location.row, info.value.location.line) == (3, 4)  # data row, file line
    assert info.value.location.file == "d.csv"


def test_a_cp1252_csv_is_refused_with_a_hint(tmp_path):
    ctx = make_ctx(tmp_path)
    (ctx.base_dir / "d.csv").write_bytes("DATAFLOW,CITTÀ,TIME_PERIOD,OBS_VALUE\n".encode("cp1252"))
    with pytest.raises(ParseError, match="not UTF-8"):
        fetch_parse(SdmxSource("pop", {"path": "d.csv"}), ctx)


@pytest.mark.parametrize("header", [b"\r\x00", b"DATAFLOW\rTIME_PERIOD,OBS_VALUE\n"])
def test_a_csv_header_pythons_csv_cannot_read_is_a_parse_error(tmp_path, header):
    """Found by the conformance kit's arbitrary bytes: a carriage return inside the first
    line made Python's csv raise its own error instead of a ParseError."""
    ctx = make_ctx(tmp_path)
    (ctx.base_dir / "d.csv").write_bytes(header)
    with pytest.raises(ParseError) as info:
        fetch_parse(SdmxSource("pop", {"path": "d.csv"}), ctx)
    assert info.value.location.line == 1


def test_a_structure_message_given_as_data_is_a_parse_error(tmp_path, shared_data):
    ctx = make_ctx(tmp_path)
    shutil.copy(shared_data / "sdmx_istat_22_289-structure.xml", ctx.base_dir / "s.xml")
    with pytest.raises(ParseError, match="not a data message"):
        fetch_parse(SdmxSource("pop", {"path": "s.xml"}), ctx)


# -- options -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "either path"),
        ({"path": "a.xml", "dataflow": "22_289", "service": "istat"}, "either path"),
        ({"dataflow": "22_289"}, "needs service"),
        ({"dataflow": "22_289", "service": "istat", "key": "A IT"}, "key"),
        ({"dataflow": "22_289", "service": "istat", "start_period": "last year"}, "period"),
        ({"dataflow": "22_289", "service": "bankitalia"}, "invalid options"),
        ({"dataflow": "22_289", "url": "ftp://x"}, "invalid options"),
    ],
)
def test_invalid_options_are_config_errors(options, message):
    with pytest.raises(ConfigError, match=message):
        SdmxSource("pop", options)


def test_the_agency_alone_names_the_service_and_flow_is_an_alias():
    source = SdmxSource("pop", {"agency": "IT1", "flow": "22_289", "key": "A.096004.JAN"})
    assert source.options.service == "istat" and source.options.dataflow == "22_289"
    assert source._data_url().startswith("https://esploradati.istat.it/SDMXWS/rest/data/22_289/")


def test_istat_and_eurostat_urls_are_built_by_sdmx1():
    istat = SdmxSource("a", {"service": "istat", "dataflow": "22_289", "key": "A.IT.JAN"})
    assert istat._data_url() == "https://esploradati.istat.it/SDMXWS/rest/data/22_289/A.IT.JAN"
    assert istat._structure_url() == (
        "https://esploradati.istat.it/SDMXWS/rest/dataflow/IT1/22_289/latest"
        "?references=datastructure"
    )
    estat = SdmxSource(
        "b", {"service": "eurostat", "dataflow": "nama_10_gdp", "structure": "NAMA_10_GDP"}
    )
    assert estat._structure_url().endswith(
        "/datastructure/ESTAT/NAMA_10_GDP/latest?references=none"
    )


def test_nothing_is_printed_while_parsing_a_bad_message(tmp_path, capsys):
    ctx = make_ctx(tmp_path)
    (ctx.base_dir / "d.xml").write_bytes(SS_MESSAGE[:700])
    with warnings.catch_warnings(), pytest.raises(ParseError):
        warnings.simplefilter("ignore")
        fetch_parse(SdmxSource("pop", {"path": "d.xml"}), ctx)
    assert capsys.readouterr().out == ""


# -- the conformance kit -----------------------------------------------------------------------
class TestSdmxConformance(SourceConformance):
    source_class = SdmxSource
    samples = (
        Sample({"path": "pop.xml"}, files={"pop.xml": SS_MESSAGE}, rows=2, id="pop_xml"),
        Sample({"path": "pop.csv"}, files={"pop.csv": CSV_MESSAGE}, rows=2, id="pop_csv"),
        Sample(
            {"url": "http://sdmx.invalid/rest", "dataflow": "22_289", "format": "csv"},
            responses={"http://sdmx.invalid/rest/data/22_289": CSV_MESSAGE},
            rows=2,
            id="pop_remote",
        ),
    )
    invalid_options = ({"path": 3}, {"dataflow": "22_289", "service": "nowhere"})
    code_columns = ("REF_AREA", "SEX", "TIME_PERIOD")
    malformed = (SS_MESSAGE.replace(b"</m:StructureSpecificData>", b""), ERROR_MESSAGE)
    harmonize_rules = """
    indicator: {value: POP_FEMALE}
    territory: {column: REF_AREA, scheme: istat, level: municipality}
    period: {column: TIME_PERIOD, reference_date: jan_1}
    value: {column: OBS_VALUE}
    unit: {unit: person}
    status: {obs_status_column: OBS_STATUS}
    """
