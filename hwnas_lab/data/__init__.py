"""CIFAR-10 for the course: found on disk (or downloaded), held in memory, batched.

    cifar10   where CIFAR-10 comes from (HWNAS_DATA_DIR, the cache folder, the official
              download), caching it, the course's train/val/test splits
    official  the official python batch files, verified by md5 before unpickling
    folder    an ImageFolder tree of image files, decoded with PIL
    source    what both provide (labels up front, images on demand)
    images    TensorData (uint8 images in memory), batches with augmentation, resize
"""

from .cifar10 import (DATA_ENV, IMAGES_PER_CLASS, TEST_IMAGES_PER_CLASS, CIFARSplits,
                      data_status, find_source, load_cifar10, load_split, read_images)
from .images import (CLASSES, IMAGE_SIZE, MEAN, STD, TensorData, augment_batch,
                     balanced_indices, batches, normalise, resize)

__all__ = ["CIFARSplits", "CLASSES", "DATA_ENV", "IMAGES_PER_CLASS", "IMAGE_SIZE", "MEAN", "STD",
           "TEST_IMAGES_PER_CLASS", "TensorData", "augment_batch", "balanced_indices", "batches",
           "data_status", "find_source", "load_cifar10", "load_split", "normalise",
           "read_images", "resize"]
