"""The GAN models: ``keras.Model`` subclasses that override ``train_step``."""

from tfgan_apps.models.base import AdversarialModel
from tfgan_apps.models.dcgan import DCGAN

__all__ = ["AdversarialModel", "DCGAN"]
