"""Data sources: the built-in offline TFDS dataset (``builtin``) and tf.data pipelines."""

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

__all__ = [
    "IMAGE_EXTENSIONS",
    "decode_image",
    "finalize",
    "find_unreadable_images",
    "from_signed_unit",
    "list_image_files",
    "load_generation_dataset",
    "load_image_folder",
    "load_tfds_images",
    "resize_and_center_crop",
    "to_signed_unit",
]
