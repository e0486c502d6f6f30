"""Data sources: the built-in offline TFDS dataset (``builtin``) and tf.data pipelines."""

from tfgan_apps.data.paired import load_pix2pix_data, load_tfds_segmentation
from tfgan_apps.data.paired_folders import load_aligned_pairs, load_folder_pairs
from tfgan_apps.data.pipelines import (
    IMAGE_EXTENSIONS,
    decode_image,
    finalize,
    find_unreadable_images,
    from_signed_unit,
    list_image_files,
    load_generation_dataset,
    load_image_folder,
    load_tfds_images,
    resize_and_center_crop,
    to_signed_unit,
)
from tfgan_apps.data.unpaired import (
    load_style_test_triplets,
    load_tfds_unpaired,
    load_unpaired_dataset,
    load_unpaired_folders,
)

__all__ = [
    "IMAGE_EXTENSIONS",
    "decode_image",
    "finalize",
    "find_unreadable_images",
    "from_signed_unit",
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
    "resize_and_center_crop",
    "to_signed_unit",
]
