"""`tfgan-apps quickstart` with a tiny budget: every application trains, draws and exports."""

from __future__ import annotations

import os

import pytest

from tfgan_apps import APPLICATIONS, UserError
from tfgan_apps.quickstart import quickstart


@pytest.mark.slow
def test_quickstart_trains_pictures_and_exports_every_application(tmp_path):
    lines: list[str] = []
    results = quickstart(runs_root=str(tmp_path / "runs"),
                         export_dir=str(tmp_path / "saved_models"),
                         epochs_scale=0.001, report=lines.append)
    assert [r.app for r in results] == list(APPLICATIONS)
    for r in results:
        assert os.listdir(r.samples), r.app
        assert os.path.isfile(r.loss_curves), r.app
        assert os.path.isfile(os.path.join(r.saved_model, "saved_model.pb")), r.app
        assert r.saved_model == os.path.join(str(tmp_path / "saved_models"), r.app, "1")
        assert any(r.saved_model in line for line in lines)


def test_unknown_quickstart_app(tmp_path):
    with pytest.raises(UserError, match="unknown application"):
        quickstart(["vae"], runs_root=str(tmp_path))
