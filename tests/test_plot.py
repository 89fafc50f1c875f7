"""cnncalc plot: the rendered picture (skipped without matplotlib), and the message when it is missing."""

import sys

import pytest

import cnncalc
from cnncalc.install import install_hint
from cnncalc.render.plot import axis_unit, shares
from cli_runner import invoke


@pytest.mark.slow
def test_png_of_alexnet_and_vgg16(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "alexnet_vgg16.png"
    result = invoke("plot", "alexnet@227", "vgg16", "-o", path)
    assert result.exit_code == 0, (result.output, result.exception)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 30_000  # three panels per model, two models, with labels: not an empty canvas
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width > height > 1000


@pytest.mark.slow
def test_svg_folded_to_blocks(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "resnet50.svg"
    result = invoke("plot", "resnet50", "--depth", "2", "--output", path)
    assert result.exit_code == 0, (result.output, result.exception)
    text = path.read_text()
    assert "<svg" in text and len(text) > 20_000


def test_without_matplotlib_one_line_and_exit_1(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    result = invoke("plot", "alexnet", "-o", tmp_path / "a.png")
    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: matplotlib is needed: {install_hint('plot')}"
    assert not (tmp_path / "a.png").exists()


def test_unknown_picture_type_is_a_usage_error(tmp_path):
    result = invoke("plot", "alexnet", "-o", tmp_path / "a.jpg")
    assert result.exit_code == 2 and ".png, .svg, .pdf" in result.stderr


def test_shares_show_the_lecture_point():
    rows = cnncalc.analyze("alexnet", input=227).rows
    # fc6 9216*4096+4096 + fc7 4096*4096+4096 + fc8 4096*1000+1000 = 58,631,144 of 61,100,840 params: 96%
    assert shares(rows, "params") == {"conv": 4, "fc": 96}
    # conv flop 72.9M + 223.9M + 112.1M + 149.5M + 99.7M = 658,145,280 of 717,571,328: 92%
    assert shares(rows, "flops")["conv"] == 92


def test_axis_unit():
    assert axis_unit(64 * 56 * 56 * 4, "bytes") == (1024, "KB")  # 784 KB
    assert axis_unit(12_845_056, "bytes") == (1024 ** 2, "MB")
    assert axis_unit(102_764_544, "count") == (10 ** 6, "M")
    assert axis_unit(0, "count") == (1, "")


FIVE_DEEP = ("resnet50", "densenet121", "mobilenet_v2", "efficientnet_b0", "googlenet")


@pytest.mark.slow
def test_five_deep_models_one_row_each_with_their_own_axes_and_block_labels(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from cnncalc.render import plot

    drawn = []  # the reports and figure the command draws, to look at its axes (five deep models are slow)
    build_figure = plot.build_figure
    monkeypatch.setattr(plot, "build_figure",
                        lambda reports, *args: drawn.append((reports, build_figure(reports, *args))) or drawn[-1][1])
    path = tmp_path / "five.png"
    result = invoke("plot", *FIVE_DEEP, "-o", path)
    assert result.exit_code == 0, (result.output, result.exception)
    data = path.read_bytes()
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    # 16 inches wide at 150 dpi whatever the depth of the nets; about 3.4 inches of height per model
    assert width == 16 * 150 and 5 * 3 * 150 < height < 5 * 4 * 150

    reports, figure = drawn[0]
    assert all(len(report.rows) >= 100 for report in reports)
    axes = figure.axes
    assert len(axes) == 5 * 3
    # each model's params panel has its own scale (no axis shared between models)
    tops = {round(axes[3 * index + 1].get_ylim()[1], 3) for index in range(5)}
    assert len(tops) > 1
    for ax in axes:
        assert len(ax.get_xticklabels()) <= plot.MAX_NAMED_BARS
    # ResNet-50's bars are labelled by bottleneck: 3, 4, 6 and 3 of them in layer1..layer4 (He et al. 2016)
    labels = {label.get_text() for label in axes[0].get_xticklabels()}
    assert {f"layer{stage}.{block}" for stage, count in enumerate((3, 4, 6, 3), 1) for block in range(count)} <= labels
