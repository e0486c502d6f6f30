"""Data sources: the built-in offline TFDS dataset (``builtin``) and tf.data pipelines.

Modules, from the leaves up: ``checks`` (argument checks), ``convert`` (uint8 <-> [-1, 1]),
``files`` (finding, decoding and checking image files), ``jitter`` (the papers' random crop and
flip), ``pipelines`` (building blocks, DCGAN's TFDS and folder loaders), ``paired_batches`` (the
pix2pix pair tail), ``paired_folders`` / ``paired`` (pix2pix), ``unpaired`` (CycleGAN);
``builtin`` + ``shapes`` render the built-in dataset.
"""

from tfgan_apps.data.checks import check_channels, check_positive_int
from tfgan_apps.data.convert import from_signed_unit, from_signed_unit_numpy, to_signed_unit
from tfgan_apps.data.files import (
    IMAGE_EXTENSIONS,
    decode_image,
    find_unreadable_images,
    list_image_files,
)
from tfgan_apps.data.jitter import jitter_load_size, random_crop_and_flip
from tfgan_apps.data.paired import load_pix2pix_data, load_tfds_segmentation
from tfgan_apps.data.paired_folders import load_aligned_pairs, load_folder_pairs
from tfgan_apps.data.pipelines import (
    finalize,
    load_generation_dataset,
    load_image_folder,
    load_tfds_images,
    resize_and_center_crop,
)
from tfgan_apps.data.unpaired import (
    load_style_test_triplets,
    load_tfds_unpaired,
    load_unpaired_dataset,
    load_unpaired_folders,
)

__all__ = [
    "IMAGE_EXTENSIONS",
    "check_channels",
    "check_positive_int",
    "decode_image",
    "finalize",
    "find_unreadable_images",
    "from_signed_unit",
    "from_signed_unit_numpy",
    "jitter_load_size",
    "list_image_files",
    "load_generation_dataset",
    "load_aligned_pairs",
    "load_folder_pairs",
    "load_image_folder",
    "load_pix2pix_data",
    "load_tfds_images",
    "load_tfds_segmentation",
    "load_tfds_unpaired",
    "load_style_test_triplets",
    "load_unpaired_dataset",
    "load_unpaired_folders",
    "random_crop_and_flip",
    "resize_and_center_crop",
    "to_signed_unit",
]
