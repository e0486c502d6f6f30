"""The GAN models: ``keras.Model`` subclasses that override ``train_step``."""

from tfgan_apps.models.base import AdversarialModel
from tfgan_apps.models.cyclegan import CycleGAN
from tfgan_apps.models.dcgan import DCGAN
from tfgan_apps.models.image_pool import ImagePool
from tfgan_apps.models.pix2pix import Pix2Pix
from tfgan_apps.models.schedules import ConstantThenLinearDecay, cyclegan_optimizers

__all__ = [
    "AdversarialModel",
    "ConstantThenLinearDecay",
    "CycleGAN",
    "DCGAN",
    "ImagePool",
    "cyclegan_optimizers",
    "Pix2Pix",
]
