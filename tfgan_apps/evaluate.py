"""``tfgan-apps evaluate``: the measures that fit a trained run's application, as a dict.

- DCGAN: FID and KID (:mod:`tfgan_apps.feature_metrics`) of ``num`` generated images against
  ``num`` real ones of the data it was trained on (or ``dataset`` / ``data_dir``), in the
  features of InceptionV3 or of a ``.keras`` model of your own.
- pix2pix: its final evaluation on the validation split of its own data (segmentation: mean
  and per-class IoU, pixel accuracy, confusion matrix; paired translation: L1).

- CycleGAN: A -> B on ``num`` test images of its data
  (:func:`tfgan_apps.metrics.unpaired_translation_measures`): colour distance to real B
  relative to the identity, edge correlation with the input, and on the built-in style set,
  whose true translations are known, PSNR/SSIM to the truth beside the identity's.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from tfgan_apps.apps import application_for_model, get_application
from tfgan_apps.data.convert import from_signed_unit, to_signed_unit
from tfgan_apps.data.pipelines import load_generation_dataset
from tfgan_apps.errors import UserError
from tfgan_apps.feature_metrics import compare_image_sets, feature_extractor
from tfgan_apps.metrics import unpaired_translation_measures
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
    if application.name == "cyclegan":
        return {"application": "cyclegan", **_evaluate_cyclegan(model, config, num,
                                                                 batch_size)}
    raise UserError(f"evaluate supports DCGAN, pix2pix and CycleGAN runs; {run_dir} is a "
                    f"{application.name} run")


def _uint8(images: Any) -> np.ndarray:
    return from_signed_unit(images).numpy()


def _evaluate_cyclegan(model: Any, config: Any, num: int, batch_size: int) -> dict[str, Any]:
    """A -> B measures on up to ``num`` un-augmented test images (the built-in set: with its
    truth; TFDS ``cycle_gan/*``: the test split; folders: the training folders)."""
    from tfgan_apps.data.unpaired import load_style_test_triplets, resolve_unpaired_name

    config = get_application("cyclegan").resolve(config)
    size = config.image_size  # the generators take any size: evaluate at the trained one
    options = config.options
    truths = None
    if options.data_dir_a is None and resolve_unpaired_name(config.dataset or "builtin",
                                                            size)[0].startswith("tfgan_shapes"):
        batches = list(load_style_test_triplets(config.dataset or "builtin", image_size=size,
                                                batch_size=batch_size).take(
            -(-num // batch_size)))
        sources, references, truths = (np.concatenate([_uint8(b[k]) for b in batches])[:num]
                                       for k in ("image_a", "image_b", "image_a_in_b"))
        source = "test split (with its true translations)"
    else:
        application = get_application("cyclegan")
        split = {} if options.data_dir_a else {"split": "test"}
        pairs = application._load(config, image_size=size, batch_size=batch_size,
                                  augment=False, shuffle=False, **split)
        batches = list(pairs.take(-(-num // batch_size)).as_numpy_iterator())
        sources, references = (np.concatenate([_uint8(b[i]) for b in batches])[:num]
                               for i in (0, 1))
        source = "training folders" if options.data_dir_a else "test split"
    translated = np.concatenate([
        _uint8(model.g_ab(to_signed_unit(sources[i:i + batch_size]), training=False))
        for i in range(0, len(sources), batch_size)])
    return {"direction": "a2b", "images": int(len(sources)), "data": source,
            **unpaired_translation_measures(translated, sources, references, truths)}
