# Purpose: Colab notebook exported with `jupyter nbconvert --to script`: Keras 3 + tfds tf_flowers transfer learning, with get_ipython() magics.
# coding: utf-8

# # Flowers: MobileNetV3 transfer learning
#
# Exported from `flowers_mobilenet.ipynb`. Runs on the free Colab GPU in about ten minutes.

# In[1]:


get_ipython().system('pip install -q tensorflow-datasets')


# In[2]:


import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds
import keras
from keras import layers

get_ipython().run_line_magic('matplotlib', 'inline')
print("TF", tf.__version__, "| Keras", keras.__version__)


# In[3]:


(train_raw, val_raw), info = tfds.load(
    "tf_flowers",
    split=["train[:85%]", "train[85%:]"],
    as_supervised=True,
    with_info=True,
)
class_names = info.features["label"].names
print(class_names, info.splits["train"].num_examples)


# In[4]:


IMG = 224
BATCH = 32
AUTOTUNE = tf.data.AUTOTUNE


def resize(image, label):
    return tf.image.resize(image, (IMG, IMG)), label


train_ds = (
    train_raw.map(resize, num_parallel_calls=AUTOTUNE)
    .cache()
    .shuffle(2000)
    .batch(BATCH)
    .prefetch(AUTOTUNE)
)
val_ds = val_raw.map(resize, num_parallel_calls=AUTOTUNE).batch(BATCH).cache().prefetch(AUTOTUNE)


# In[5]:


plt.figure(figsize=(8, 8))
for images, labels in train_ds.take(1):
    for i in range(9):
        ax = plt.subplot(3, 3, i + 1)
        plt.imshow(images[i].numpy().astype("uint8"))
        plt.title(class_names[int(labels[i])])
        plt.axis("off")


# In[6]:


base = keras.applications.MobileNetV3Small(input_shape=(IMG, IMG, 3), include_top=False, weights="imagenet")
base.trainable = False

inputs = keras.Input(shape=(IMG, IMG, 3))
x = layers.RandomFlip("horizontal")(inputs)
x = base(x, training=False)
x = layers.GlobalAveragePooling2D()(x)
x = layers.Dropout(0.2)(x)
outputs = layers.Dense(len(class_names))(x)
model = keras.Model(inputs, outputs)
model.compile(
    optimizer=keras.optimizers.Adam(1e-3),
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"],
)


# In[7]:


get_ipython().run_cell_magic('time', '', 'history = model.fit(train_ds, validation_data=val_ds, epochs=8, verbose=2)\n')


# In[8]:


plt.plot(history.history["accuracy"], label="train")
plt.plot(history.history["val_accuracy"], label="val")
plt.legend()


# In[9]:


logits = model.predict(val_ds, verbose=0)
y_true = np.concatenate([y.numpy() for _, y in val_ds])
print("val accuracy:", (logits.argmax(axis=1) == y_true).mean())
model.save("flowers_mobilenetv3.keras")
