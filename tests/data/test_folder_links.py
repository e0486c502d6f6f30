"""Image folders holding symbolic links: loops, dangling links, ``sub -> .``, links elsewhere.

Every folder is built under ``tmp_path`` with ``os.symlink`` and a few 8x8 PNGs, so each test
takes a fraction of a second; nothing trains.
"""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest
import tensorflow as tf

from tfgan_apps.data.files import find_unreadable_images, list_folder_images, list_image_files
from tfgan_apps.data.paired_folders import load_aligned_pairs
from tfgan_apps.data.pipelines import load_image_folder
from tfgan_apps.errors import UserError

pytestmark = pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt",
                                reason="needs POSIX symbolic links")

FILES_LOGGER = "tfgan_apps.data.files"


def _png(path, value=0, width=8):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tf.io.encode_png(np.full((8, width, 3), value, np.uint8)).numpy())
    return path


def _names(paths, folder):
    return [os.path.relpath(p, folder) for p in paths]


def _skip_warnings(caplog):
    return [r.getMessage() for r in caplog.records
            if r.name == FILES_LOGGER and r.levelno == logging.WARNING]


@pytest.fixture
def caplog_files(caplog):
    caplog.set_level(logging.WARNING, logger=FILES_LOGGER)
    return caplog


def test_a_link_loop_is_skipped_counted_and_named(tmp_path, caplog_files):
    _png(tmp_path / "x.png")
    os.symlink("b.png", tmp_path / "a.png")
    os.symlink("a.png", tmp_path / "b.png")
    assert _names(list_image_files(tmp_path), tmp_path) == ["x.png"]
    (message,) = _skip_warnings(caplog_files)
    assert "2 broken or looping links (a.png, b.png)" in message
    assert str(tmp_path) in message


def test_a_dangling_link_is_skipped_and_the_rest_loads(tmp_path, caplog_files):
    _png(tmp_path / "x.png")
    _png(tmp_path / "y.png", 255)
    os.symlink("missing.png", tmp_path / "c.png")
    paths = list_folder_images(tmp_path)
    assert _names(paths, tmp_path) == ["x.png", "y.png"]
    assert find_unreadable_images(paths) == []
    (message,) = _skip_warnings(caplog_files)
    assert "1 broken or looping link (c.png)" in message


def test_a_link_to_the_folder_itself_lists_each_image_once(tmp_path, caplog_files):
    _png(tmp_path / "x.png")
    _png(tmp_path / "deep" / "y.png")
    os.symlink(".", tmp_path / "sub")
    assert _names(list_image_files(tmp_path), tmp_path) == ["deep/y.png", "x.png"]
    (message,) = _skip_warnings(caplog_files)
    assert "1 folder already listed through another path (sub)" in message


def test_a_link_to_a_parent_folder_adds_only_what_is_outside(tmp_path, caplog_files):
    folder = tmp_path / "data"
    _png(folder / "deep" / "y.png")
    _png(tmp_path / "beside.png")
    os.symlink("../..", folder / "deep" / "up")  # tmp_path, which holds data/ itself
    names = _names(list_image_files(folder), folder)
    assert names == ["deep/up/beside.png", "deep/y.png"]
    (message,) = _skip_warnings(caplog_files)
    assert "1 folder already listed through another path (deep/up/data)" in message


def test_a_link_to_a_folder_elsewhere_is_followed_once(tmp_path, caplog_files):
    photos = tmp_path / "photos"
    _png(photos / "p1.png")
    _png(photos / "2023" / "p2.jpg")
    folder = tmp_path / "data"
    _png(folder / "own.png")
    os.symlink(photos, folder / "holiday")
    os.symlink(photos, folder / "again")  # the same photos a second time: walked once
    os.symlink(photos / "2023", folder / "year")  # inside a folder already walked
    names = _names(list_image_files(folder), folder)
    assert names == ["again/2023/p2.jpg", "again/p1.png", "own.png"]
    (message,) = _skip_warnings(caplog_files)
    assert "2 folders already listed through another path (holiday, year)" in message


def test_a_folder_inside_keeps_its_own_name_when_a_link_to_it_sorts_first(tmp_path):
    _png(tmp_path / "real" / "x.png")
    os.symlink("real", tmp_path / "a_link")
    assert _names(list_image_files(tmp_path), tmp_path) == ["real/x.png"]


def test_two_names_for_one_file_stay_two_entries(tmp_path, caplog_files):
    _png(tmp_path / "x.png")
    os.symlink("x.png", tmp_path / "link_to_x.png")
    assert _names(list_image_files(tmp_path), tmp_path) == ["link_to_x.png", "x.png"]
    assert _skip_warnings(caplog_files) == []


def test_find_unreadable_images_reports_broken_links_without_failing(tmp_path):
    good = _png(tmp_path / "x.png")
    os.symlink("missing.png", tmp_path / "c.png")
    os.symlink("b.png", tmp_path / "a.png")
    os.symlink("a.png", tmp_path / "b.png")
    paths = [str(tmp_path / n) for n in ("a.png", "c.png")] + [str(good)]
    assert find_unreadable_images(paths) == paths[:2]
    assert find_unreadable_images(paths[:2]) == paths[:2]


def test_image_folder_loader_yields_every_reachable_image_once(tmp_path, caplog_files):
    photos = tmp_path / "photos"
    _png(photos / "p1.png", 10)
    _png(photos / "p2.png", 20)
    folder = tmp_path / "data"
    _png(folder / "own.png", 30)
    os.symlink(photos, folder / "photos")
    os.symlink(".", folder / "sub")
    os.symlink("missing.png", folder / "c.png")
    os.symlink("b.png", folder / "a.png")
    os.symlink("a.png", folder / "b.png")
    ds = load_image_folder(folder, image_size=8, batch_size=1, shuffle=False,
                           drop_remainder=False, cache=False)
    images = [batch for batch in ds.as_numpy_iterator()]
    assert len(images) == 3
    (message,) = _skip_warnings(caplog_files)
    assert "3 broken or looping links (a.png, b.png, c.png)" in message
    assert "1 folder already listed through another path (sub)" in message


def test_pix2pix_aligned_folder_skips_a_dangling_link_instead_of_refusing_the_folder(tmp_path):
    _png(tmp_path / "one.png", 10, width=16)
    _png(tmp_path / "two.png", 20, width=16)
    os.symlink("missing.png", tmp_path / "three.png")
    ds = load_aligned_pairs(tmp_path, image_size=8, batch_size=1, shuffle=False,
                            drop_remainder=False, cache=False)
    assert len(list(ds.as_numpy_iterator())) == 2


def test_non_local_paths_still_go_through_tf_io_gfile():
    # ram:// stands in for gs://: a file system only tf.io.gfile knows.
    root = "ram://folder_links_test"
    tf.io.gfile.makedirs(f"{root}/sub")
    for name in ("a.png", "sub/b.png", "notes.txt"):
        with tf.io.gfile.GFile(f"{root}/{name}", "wb") as file:
            file.write(b"bytes")
    assert list_folder_images(root) == [f"{root}/a.png", f"{root}/sub/b.png"]


def test_a_folder_of_only_broken_links_is_one_user_error(tmp_path):
    os.symlink("missing.png", tmp_path / "c.png")
    os.symlink("b.png", tmp_path / "a.png")
    os.symlink("a.png", tmp_path / "b.png")
    with pytest.raises(UserError, match="no images under") as raised:
        list_folder_images(tmp_path)
    message = str(raised.value)
    assert "\n" not in message
    assert "3 broken or looping links (a.png, b.png, c.png)" in message


def test_cli_folder_of_only_broken_links_exits_2_with_one_line(tmp_path, capsys):
    from tfgan_apps.cli import main

    folder = tmp_path / "images"
    folder.mkdir()
    os.symlink("missing.png", folder / "c.png")
    os.symlink("b.png", folder / "a.png")
    os.symlink("a.png", folder / "b.png")
    status = main(["train", "dcgan", "--data-dir", str(folder), "--image-size", "16",
                   "--batch-size", "2", "--epochs", "1", "--steps-per-epoch", "1",
                   "--base-filters", "8", "--no-xla", "--quiet",
                   "--output", str(tmp_path / "run")])
    assert status == 2
    assert not (tmp_path / "run").exists()
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert "no images under" in lines[0] and "broken or looping links" in lines[0]
    assert "a.png" in lines[0] and "c.png" in lines[0]
