"""CycleGAN's ImagePool: the paper's history buffer, as checkpointable TensorFlow state."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tfgan_apps.errors import UserError
from tfgan_apps.models.image_pool import ImagePool
from tfgan_apps.training import make_strategy


def tagged(ids) -> np.ndarray:
    """Images ``[n, 2, 2, 1]`` whose every pixel holds the image's id (to trace them)."""
    return np.asarray(ids, np.float32).reshape(-1, 1, 1, 1) * np.ones((1, 2, 2, 1), np.float32)


def ids_of(images) -> np.ndarray:
    return np.asarray(images)[:, 0, 0, 0].round().astype(int)


def seed(step: int) -> tf.Tensor:
    return tf.constant([7, step], tf.int64)


def reference_query(pool: list, count: int, ids: list, draws: np.ndarray, size: int):
    """The reference implementation's loop, fed with the same random draws."""
    returned = []
    for i, image in enumerate(ids):
        if count < size:
            pool[count] = image
            count += 1
            returned.append(image)
        elif draws[i, 0] < 0.5:
            slot = min(int(draws[i, 1] * size), size - 1)
            returned.append(pool[slot])
            pool[slot] = image
        else:
            returned.append(image)
    return returned, pool, count


def test_pool_fills_first_returning_the_new_images():
    pool = ImagePool(5, (2, 2, 1))
    out = pool(tagged([1, 2]), seed(0))
    np.testing.assert_array_equal(ids_of(out), [1, 2])
    assert int(pool.count) == 2
    out = pool(tagged([3, 4]), seed(1))
    np.testing.assert_array_equal(ids_of(out), [3, 4])
    np.testing.assert_array_equal(ids_of(pool.images)[:4], [1, 2, 3, 4])
    # the fifth image fills the pool; the sixth is the first that may be swapped
    out = pool(tagged([5, 6]), seed(2))
    assert ids_of(out)[0] == 5 and ids_of(out)[1] in (1, 2, 3, 4, 5, 6)
    assert int(pool.count) == 5


def test_pool_matches_the_reference_loop_exactly():
    """Batches with repeated slots included: the vectorized update equals the loop."""
    size, batch = 6, 8
    layer = ImagePool(size, (2, 2, 1))
    pool, count, next_id = [0] * size, 0, 1
    for step in range(40):
        ids = list(range(next_id, next_id + batch))
        next_id += batch
        draws = tf.random.stateless_uniform([batch, 2], seed=seed(step)).numpy()
        expected, pool, count = reference_query(pool, count, ids, draws, size)
        out = layer(tagged(ids), seed(step))
        np.testing.assert_array_equal(ids_of(out), expected)
        np.testing.assert_array_equal(ids_of(layer.images), pool)
        assert int(layer.count) == count


def test_full_pool_returns_stored_images_with_probability_one_half():
    size, steps, batch = 50, 300, 4
    layer = ImagePool(size, (2, 2, 1))
    query = tf.function(layer.__call__)
    next_id, stored = 1, 0
    for step in range(steps):
        ids = np.arange(next_id, next_id + batch)
        next_id += batch
        out = ids_of(query(tagged(ids), seed(step)))
        if step * batch >= size:  # the pool was full before this batch
            older = out < ids.min()
            stored += older.sum()
            # every image returned is either the new one or one seen before
            assert np.all((out == ids) | (out < ids))
    n = (steps - size // batch - 1) * batch
    fraction = stored / n
    # binomial(n, 0.5): 4 standard deviations; same-batch swaps make a few new-for-new trades
    assert abs(fraction - 0.5) < 4 * np.sqrt(0.25 / n) + 0.02, fraction


def test_pool_size_zero_returns_its_input():
    layer = ImagePool(0, (2, 2, 1))
    np.testing.assert_array_equal(ids_of(layer(tagged([3, 4]), seed(0))), [3, 4])
    assert layer.weights == []


def test_random_choices_depend_only_on_the_seed():
    a, b = ImagePool(3, (2, 2, 1)), ImagePool(3, (2, 2, 1))
    for step in range(6):
        ids = [10 * step + 1, 10 * step + 2]
        np.testing.assert_array_equal(ids_of(a(tagged(ids), seed(step))),
                                      ids_of(b(tagged(ids), seed(step))))


def test_state_survives_checkpoint_save_and_restore(tmp_path):
    layer = ImagePool(4, (2, 2, 1))
    for step in range(3):
        layer(tagged([2 * step + 1, 2 * step + 2]), seed(step))
    path = tf.train.Checkpoint(pool=layer).save(str(tmp_path / "ckpt"))
    expected_next = ids_of(layer(tagged([98, 99]), seed(3)))
    expected_pool = ids_of(layer.images)

    restored = ImagePool(4, (2, 2, 1))
    tf.train.Checkpoint(pool=restored).restore(path).assert_consumed()
    assert int(restored.count) == 4
    np.testing.assert_array_equal(ids_of(restored(tagged([98, 99]), seed(3))), expected_next)
    np.testing.assert_array_equal(ids_of(restored.images), expected_pool)


def test_mirrored_pool_equals_one_device_pool_on_the_global_batch():
    # make_strategy shares one MirroredStrategy per process (see its docstring).
    strategy = make_strategy("mirrored", ["/cpu:0", "/cpu:1"])
    with strategy.scope():
        mirrored = ImagePool(6, (2, 2, 1))
    single = ImagePool(6, (2, 2, 1))

    @tf.function
    def mirrored_step(images, step_seed):
        return strategy.run(lambda x: mirrored(x, step_seed), args=(images,))

    for step in range(8):
        ids = np.arange(4 * step + 1, 4 * step + 5)
        per_replica = strategy.experimental_distribute_values_from_function(
            lambda context, ids=ids: tagged(ids[2 * context.replica_id_in_sync_group:][:2]))
        out = strategy.experimental_local_results(mirrored_step(per_replica, seed(step)))
        np.testing.assert_array_equal(np.concatenate([ids_of(o) for o in out]),
                                      ids_of(single(tagged(ids), seed(step))))
        np.testing.assert_array_equal(ids_of(mirrored.images), ids_of(single.images))


@pytest.mark.parametrize("bad", [-1, 2.5, True])
def test_bad_pool_size_is_rejected(bad):
    with pytest.raises(UserError, match="pool_size"):
        ImagePool(bad, (2, 2, 1))
