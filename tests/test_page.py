"""cnncalc page: one self-contained HTML file. The HTML is checked as text here (always), then in headless
Chromium (tests/browser.py; they skip only where no Chromium is installed): no console error, no request
but the file itself, blocks that open on a real click, the rows and totals on screen equal to
`report --format json`, a hostile name shown as text, a screenshot that is not blank."""

import json
import re
from html.parser import HTMLParser

import pytest

from browser import Browser
from cli_runner import invoke, ok

HOSTILE = ['<script>window.pwned=1</script>', '<img src=x onerror="window.pwned=2">', '"><svg onload=window.pwned=3>',
           "&lt;b&gt;entity&amp;"]
HOSTILE_SPEC = (
    "name: '<script>window.pwned=4</script>'\n"
    "input: [3, 16, 16]\n"
    "layers:\n"
    + "".join(f"  - {{name: {json.dumps(name)}, type: conv, filters: 4, kernel: 3, pad: 1}}\n" for name in HOSTILE)
    + "  - {name: 'blk.<b>inner</b>', type: relu}\n  - {name: 'blk.x', type: relu}\n"
)
# 100,000 layers: 10,000 blocks of 10 convs (the most a spec may expand to)
BIG_SPEC = ("input: [3, 8, 8]\nblocks:\n  ten: {layers: [{type: conv, filters: 3, kernel: 1, repeat: 10}]}\n"
            "layers:\n  - {type: ten, repeat: 10000}\n")


def write_page(tmp_path, *specs, name="page.html"):
    out = tmp_path / name
    result = invoke("page", *specs, "-o", out)
    assert result.exit_code == 0, (result.stderr, result.exception)
    return out


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """The pages the tests read: resnet50, the hostile spec, and two models compared."""
    folder = tmp_path_factory.mktemp("pages")
    hostile = folder / "hostile.yaml"
    hostile.write_text(HOSTILE_SPEC, encoding="utf-8")
    return {"resnet50": write_page(folder, "resnet50", name="resnet50.html"),
            "hostile": write_page(folder, hostile, name="hostile.html"),
            "two": write_page(folder, "alexnet", "vgg16", name="two.html"),
            "hostile_spec": hostile}


@pytest.fixture(scope="module")
def resnet50_json():
    return json.loads(ok("report", "resnet50", "--format", "json"))


class Cells(HTMLParser):
    """Table rows of a page as (attributes, [cell texts]), with the section they are in."""

    def __init__(self):
        super().__init__()
        self.rows, self.tags, self._row, self._cell = [], [], None, None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "tr":
            self._row = (dict(attrs), [])
            self.rows.append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row[1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def parsed(path):
    parser = Cells()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


# --- the HTML as text -----------------------------------------------------------------------------------

def test_the_page_fetches_nothing(pages):
    for key in ("resnet50", "two", "hostile"):
        text = pages[key].read_text(encoding="utf-8")
        assert not re.search(r"""(src|href|action|xlink:href)\s*=\s*["']?\s*(https?:|//|ftp:)""", text, re.I)
        assert not re.search(r"@import|url\(|<link|<iframe|<object|<embed|<img|<script[^>]*\bsrc", text, re.I)
        assert "default-src 'none'" in text  # and a Content-Security-Policy forbids any fetch anyway
        for tag, attrs in parsed(pages[key]).tags:
            for name, value in attrs.items():
                assert not (name in ("src", "href") and value and not value.startswith("#")), (tag, name, value)


def test_resnet50_page_is_well_under_a_megabyte(pages):
    assert pages["resnet50"].stat().st_size < 400_000


def test_every_layer_is_a_row_and_the_totals_are_the_json_totals(pages, resnet50_json):
    rows = parsed(pages["resnet50"]).rows
    layers = [attrs for attrs, _ in rows if attrs.get("class") == "lay"]
    assert [a["data-n"] for a in layers] == [layer["name"].lower() for layer in resnet50_json["layers"]]
    totals = {attrs["data-key"]: cells[1] for attrs, cells in rows if "data-key" in attrs}
    for key, shown in totals.items():
        assert shown.replace(" B", "") == f"{resnet50_json['totals'][key]:,}", key
    # ResNet-50: 25,557,032 params, 4.09 GMACs (torchvision's model card: 25.6M params, 4.09 GFLOPS)
    assert totals["params"] == "25,557,032" and totals["macs"].startswith("4,089,")


def test_blocks_are_summed_rows_in_lecture_units(pages):
    rows = {cells[0].split(" ")[0]: cells for attrs, cells in parsed(pages["resnet50"]).rows if "data-n" in attrs}
    # layer1 of ResNet-50: 215,808 params (3 bottlenecks: 75,008 + 70,400 x 2), shown in thousands
    assert rows["layer1"][10] == "216"


def test_names_are_text_never_markup(pages):
    text = pages["hostile"].read_text(encoding="utf-8")
    for name in HOSTILE + ["<b>inner</b>", "<script>window.pwned=4</script>"]:
        assert name not in text
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in text
    assert "&amp;lt;b&amp;gt;entity&amp;amp;" in text
    names = [cells[0] for attrs, cells in parsed(pages["hostile"]).rows if attrs.get("class") == "lay"]
    assert names[:4] == HOSTILE


def test_several_models_share_a_page_with_the_comparison_on_top(pages):
    text = pages["two"].read_text(encoding="utf-8")
    assert text.count("<section class=model") == 2
    assert text.index("class=compare") < text.index("<section class=model")
    assert "VGG-16 vs AlexNet:" in text


def test_a_100000_layer_network_still_writes_a_bounded_page(tmp_path):
    from cnncalc.render.page import MAX_TABLE_ROWS
    from cnncalc.render.page_svg import MAX_BOXES, MAX_DRAWINGS, MAX_OUTSIDE

    spec = tmp_path / "big.yaml"
    spec.write_text(BIG_SPEC)
    out = write_page(tmp_path, spec)
    text = out.read_text(encoding="utf-8")
    assert out.stat().st_size < 1_500_000
    assert text.count("<tr id=") <= MAX_TABLE_ROWS
    assert text.count('<g class="node') <= (MAX_DRAWINGS + 1) * (MAX_BOXES + MAX_OUTSIDE + 2)
    assert "more rows of ten1 not shown" in text
    assert "100,000" in text  # the totals count every layer


def test_shape_columns_are_titled_as_the_report_titles_them(tmp_path):
    """A ViT's rows hold tokens (197 x 768 after conv_proj's 768 x 14), M5's a 1-D map: the report's titles."""
    for model, words in (("vit_b_16", "C x H/W, N x D"), ("m5", "C x L"), ("c3d", "C x D x H x W")):
        heads = [cells for attrs, cells in parsed(write_page(tmp_path, model)).rows if cells and cells[0] == "Layer"]
        assert heads and heads[0][2] == f"input{words}" and heads[0][7] == f"output{words}", heads
        assert words in ok("report", model).splitlines()[1]


def test_page_usage_and_spec_errors(tmp_path):
    assert invoke("page", "resnet50").exit_code == 2  # no -o
    result = invoke("page", "resnet50", "--device", "no-such-gpu", "-o", tmp_path / "x.html")
    assert result.exit_code == 2 and "unknown device" in result.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("input: [3, 8, 8]\nlayers:\n  - {type: conv, filters: 4}\n")
    result = invoke("page", bad, "-o", tmp_path / "bad.html")
    assert result.exit_code == 1 and result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    assert not (tmp_path / "bad.html").exists()


def test_the_page_file_is_named_as_html(tmp_path):
    result = invoke("page", "lenet5", "-o", tmp_path / "lenet5.txt")
    assert result.exit_code == 2 and "-o must end in .html or .htm" in result.stderr
    assert not (tmp_path / "lenet5.txt").exists()
    assert invoke("page", "lenet5", "-o", tmp_path / "LeNet5.HTM").exit_code == 0


def test_with_a_device_the_roofline_and_each_layers_bound(tmp_path):
    out = write_page(tmp_path, "mobilenet_v2", "--device", "t4")
    reference = json.loads(ok("report", "mobilenet_v2", "--device", "t4", "--format", "json"))
    text = out.read_text(encoding="utf-8")
    assert "<svg class=roofline" in text and "roofline on t4 (NVIDIA T4" in text
    # one point per layer that computes and moves something (cnncalc.roofline's figures, not drawn past 400)
    assert text.count("<circle ") == len([layer for layer in reference["layers"]
                                          if layer["bytes_moved"] and layer["flops_2x"]])
    rows = parsed(out).rows
    titles = next(cells for attrs, cells in rows if cells and cells[0] == "Layer")
    bound = titles.index("bound")
    shown = {attrs["data-n"]: cells[bound] for attrs, cells in rows if attrs.get("class") == "lay"}
    assert shown == {layer["name"].lower(): layer.get("bound") or "" for layer in reference["layers"]}
    # MobileNetV2 on a T4 is memory-bound: its depthwise convs move far more bytes than they compute on
    assert list(shown.values()).count("memory") > list(shown.values()).count("compute")


# --- in a real browser ----------------------------------------------------------------------------------

needs_browser = pytest.mark.skipif(Browser.find() is None, reason="no Chromium installed")


@pytest.fixture(scope="module")
def browser():
    with Browser() as running:
        yield running


def visible_rows(page, kind=None):
    """(name, class) of the table rows shown on screen."""
    return page.evaluate(f"""Array.prototype.slice.call(document.querySelectorAll('table.layers tbody tr'))
        .filter(function (tr) {{ return tr.offsetParent !== null && (!{json.dumps(kind)} || tr.className === {json.dumps(kind)}); }})
        .map(function (tr) {{ return [tr.getAttribute('data-n'), tr.className]; }})""")


@needs_browser
def test_resnet50_page_in_the_browser(browser, pages, resnet50_json):
    page = browser.open(pages["resnet50"].as_uri())
    shown = [name for name, _ in visible_rows(page)]
    assert shown[:4] == ["conv1", "bn1", "maxpool", "layer1"] and "layer1.0" not in shown  # blocks folded
    page.click(*page.centre("tr[data-n='layer1'] td"))  # a real mouse click on the block's row
    shown = [name for name, _ in visible_rows(page)]
    assert shown[4:8] == ["layer1.0", "layer1.1", "layer1.2", "layer2"]
    page.click(*page.centre("tr[data-n='layer1.0'] td"))
    assert "layer1.0.conv1" in [name for name, _ in visible_rows(page)]
    page.click(*page.centre("button.openall"))
    leaves = [name for name, _ in visible_rows(page, "lay")]
    assert leaves == [layer["name"].lower() for layer in resnet50_json["layers"]]
    totals = page.evaluate("""Array.prototype.slice.call(document.querySelectorAll('table.totals tr'))
        .map(function (tr) { return [tr.getAttribute('data-key'), tr.querySelector('td.exact').innerText]; })""")
    for key, text in totals:
        assert text.replace(" B", "") == f"{resnet50_json['totals'][key]:,}", key
    assert page.errors == [] and page.requests == [pages["resnet50"].as_uri()]


@needs_browser
def test_filter_hover_and_graph_blocks_in_the_browser(browser, pages):
    page = browser.open(pages["resnet50"].as_uri())
    page.click(*page.centre("input.filter"))
    page.send("Input.insertText", {"text": "downsample"})
    shown = visible_rows(page, "lay")
    assert shown and all("downsample" in name for name, _ in shown)
    assert len(shown) == 8  # conv and bn of the first bottleneck of each of the four stages
    page.hover(*page.centre("g.node[data-open]"))  # the layer graph's first block box: layer1
    tip = page.evaluate("document.getElementById('tip').hidden ? '' : document.getElementById('tip').innerText")
    assert "layer1" in tip and "block" in tip
    page.click(*page.centre("g.node[data-open]"))
    assert page.evaluate("document.getElementById('m0g1').open") is True
    page.hover(*page.centre("svg.bars rect"))
    assert page.evaluate("document.getElementById('tip').innerText").startswith("Layer")
    assert page.errors == []


@needs_browser
def test_hostile_names_show_as_text_in_the_browser(browser, pages):
    page = browser.open(pages["hostile"].as_uri())
    page.click(*page.centre("button.openall"))
    names = page.evaluate("""Array.prototype.slice.call(document.querySelectorAll('table.layers tr.lay td.name'))
        .map(function (td) { return td.innerText; })""")
    assert names[:4] == HOSTILE
    assert page.evaluate("document.querySelector('h1').innerText") == "<script>window.pwned=4</script>"
    for box in range(3):  # hovering copies a row into the tooltip: still text
        page.hover(*page.centre(f"svg.graph g.node:nth-of-type({box + 2})"))
    assert page.evaluate("window.pwned === undefined") is True
    assert not [e for e in browser.events if e.get("method") == "Page.javascriptDialogOpening"]
    assert page.errors == [] and page.requests == [pages["hostile"].as_uri()]


@needs_browser
def test_the_table_reads_without_javascript(browser, pages, resnet50_json):
    page = browser.open(pages["resnet50"].as_uri(), javascript=False)
    leaves = [name for name, _ in visible_rows(page, "lay")]
    assert leaves == [layer["name"].lower() for layer in resnet50_json["layers"]]
    assert page.evaluate("document.querySelector('.tools').offsetParent") is None  # no dead filter box


@needs_browser
def test_the_screenshot_is_not_blank(browser, pages, tmp_path):
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><title>blank</title>")
    empty = browser.open(blank.as_uri()).screenshot()
    page = browser.open(pages["two"].as_uri())
    picture = page.screenshot()
    assert picture[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(picture) > 5 * len(empty)  # a blank page compresses to almost nothing
    try:
        from PIL import Image
    except ImportError:
        return
    import io

    colours = Image.open(io.BytesIO(picture)).convert("RGB").getcolors(1 << 20)
    assert len(colours) > 50
