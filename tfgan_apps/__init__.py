"""tfgan_apps: DCGAN generation, CycleGAN style transfer and pix2pix segmentation on Keras 3.

Importing the package registers the built-in offline TFDS dataset ``tfgan_shapes``.
"""

import os

# Quiet TensorFlow's C++ start-up chatter unless the user asked for it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tfgan_apps import losses, networks  # noqa: E402
from tfgan_apps.models import DCGAN, AdversarialModel  # noqa: E402

__version__ = "0.1.0"

__all__ = ["DCGAN", "AdversarialModel", "losses", "networks"]
