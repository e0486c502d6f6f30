"""``tfgan-apps evaluate``: the measures that fit a trained run's application, as a dict.

- DCGAN: FID and KID (:mod:`tfgan_apps.feature_metrics`) of ``num`` generated images against
  ``num`` real ones of the data it was trained on (or ``dataset`` / ``data_dir``), in the
  features of InceptionV3 or of a ``.keras`` model of your own.
- pix2pix: its final evaluation on the validation split of its own data (segmentation: mean
  and per-class IoU, pixel accuracy, confusion matrix; paired translation: L1).

CycleGAN is not covered yet (``benchmarks/quality_cyclegan.py`` measures PSNR to a known truth,
colour distance and edge correlation where a truth exists).
"""

from __future__ import annotations

import itertools
from typing import Any

from tfgan_apps.apps import application_for_model, get_application
from tfgan_apps.data.pipelines import load_generation_dataset
from tfgan_apps.errors import UserError
from tfgan_apps.feature_metrics import compare_image_sets, feature_extractor
from tfgan_apps.runs import RunDirectory


def evaluate_run(run_dir: str, *, dataset: str | None = None, data_dir: str | None = None,
                 num: int = 2000, features: str = "inception", batch_size: int = 50,
                 seed: int = 0) -> dict[str, Any]:
    """Evaluate ``RUN_DIR/model.keras`` (see the module docstring).

    Args:
        run_dir: a training run directory.
        dataset, data_dir: DCGAN: the real images to compare with (default: the run's own).
        num: DCGAN: images of each set (fewer when the real set is smaller; reported).
        features: DCGAN: ``"inception"`` or the path of a ``.keras`` feature model.
        batch_size: images per feature batch.
        seed: noise of the generated images and order of the real ones.

    Raises:
        UserError: not a run directory, an application without an evaluation, or options
            that do not apply to it.
    """
    run = RunDirectory(run_dir)
    model = run.load_model()
    config = run.read_config()
    if config is None:
        raise UserError(f"{run_dir} has no config.json: pass a training run directory")
    application = application_for_model(model)
    if application.name == "dcgan":
        extractor = feature_extractor(features)  # before any data: a missing file fails fast
        size = int(model.generator.output_shape[1])
        channels = int(model.generator.output_shape[3])
        source = (dataset, data_dir) if dataset or data_dir else (config.dataset,
                                                                  config.data_dir)
        real = load_generation_dataset(source[0], data_dir_images=source[1], image_size=size,
                                       channels=channels, batch_size=batch_size, shuffle=True,
                                       seed=seed, drop_remainder=False)
        generated = (model.generate(batch_size, seed=seed + i) for i in itertools.count())
        report = compare_image_sets(generated, real, extractor, num, seed=seed)
        return {"application": "dcgan", "features": features, **report}
    if dataset or data_dir or features != "inception":
        raise UserError(f"--dataset, --data-dir and --features apply to DCGAN runs; {run_dir} "
                        f"is a {application.name} run, evaluated on its own validation data")
    if application.name == "pix2pix":
        application = get_application("pix2pix")
        config = application.resolve(config)
        # Keras's evaluate/predict need a compiled model; model.keras is loaded without
        model.compile(*application.optimizers(config, None), jit_compile=False,
                      **application.compile_kwargs(config))
        report = application.evaluate(config, model, application.datasets(config))
        if report is None:
            raise UserError(f"{run_dir} was trained without validation data to evaluate on")
        return {"application": "pix2pix", **report}
    raise UserError(f"evaluate supports DCGAN and pix2pix runs; {run_dir} is a "
                    f"{application.name} run (see benchmarks/quality_cyclegan.py for its "
                    "measures)")
