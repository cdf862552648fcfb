# Purpose: Jupyter notebook exported with `jupyter nbconvert --to script`: tf.keras land-cover tile classifier, pipeline and policy set in early cells.
# coding: utf-8

# # Land cover from 64x64 satellite tiles
#
# Exported from `landcover.ipynb`. Four bands: R, G, B, NIR.

# In[1]:


get_ipython().system('pip install -q rasterio')


# In[2]:


import numpy as np
import matplotlib.pyplot as plt
import tensorflow as tf

get_ipython().run_line_magic('matplotlib', 'inline')
print(tf.__version__, tf.config.list_physical_devices("GPU"))


# In[3]:


# faster on the T4
tf.keras.mixed_precision.set_policy("mixed_float16")


# In[4]:


data = np.load("tiles_64px.npz")
x, y = data["x"], data["y"]
CLASSES = ["water", "forest", "crop", "urban", "bare", "grass", "wetland", "shrub", "snow", "cloud"]
print(x.shape, y.shape, np.bincount(y))


# In[5]:


def preprocess(img, label):
    img = tf.image.convert_image_dtype(img, tf.float32)
    return tf.image.per_image_standardization(img), label


n_val = len(x) // 10
train_ds = tf.data.Dataset.from_tensor_slices((x[n_val:], y[n_val:]))
train_ds = train_ds.shuffle(20000).map(preprocess).batch(64)
val_ds = (
    tf.data.Dataset.from_tensor_slices((x[:n_val], y[:n_val]))
    .map(preprocess, num_parallel_calls=tf.data.AUTOTUNE)
    .batch(64)
    .prefetch(tf.data.AUTOTUNE)
)


# In[6]:


model = tf.keras.Sequential([
    tf.keras.Input(shape=(64, 64, 4)),
    tf.keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
    tf.keras.layers.MaxPooling2D(),
    tf.keras.layers.Conv2D(64, 3, padding="same", activation="relu"),
    tf.keras.layers.MaxPooling2D(),
    tf.keras.layers.Conv2D(128, 3, padding="same", activation="relu"),
    tf.keras.layers.GlobalAveragePooling2D(),
    tf.keras.layers.Dense(len(CLASSES)),
    tf.keras.layers.Activation("softmax", dtype="float32"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.summary()


# In[7]:


history = model.fit(train_ds, validation_data=val_ds, epochs=10)


# In[8]:


get_ipython().run_cell_magic('time', '', 'model.evaluate(val_ds, batch_size=64)\n')


# In[9]:


sample_idx = np.random.choice(n_val, 12, replace=False)
fig, axes = plt.subplots(3, 4, figsize=(10, 8))
for ax, i in zip(axes.flat, sample_idx):
    img, _ = preprocess(x[i], y[i])
    pred = model.predict(img[None], verbose=0).argmax()
    ax.imshow(x[i][..., :3])
    ax.set_title(f"{CLASSES[y[i]]} / {CLASSES[pred]}")
    ax.axis("off")


# In[10]:


get_ipython().run_line_magic('load_ext', 'tensorboard')
get_ipython().run_line_magic('tensorboard', '--logdir logs')
