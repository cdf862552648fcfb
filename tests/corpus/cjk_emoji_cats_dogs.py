# 用途 / 目的: Keras 3 猫狗分类 (cats vs dogs) with CJK comments, CJK layer names and emoji in strings on the same lines as findings.
import numpy as np
import keras
from keras import layers

# 数据路径 / データのパス 📁
DATA_DIR = "数据/猫和狗"
IMAGE_SIZE = (160, 160)
BATCH_SIZE = 32

# image_dataset_from_directory 已经带有 prefetch，不需要再加
train_ds = keras.utils.image_dataset_from_directory(
    DATA_DIR, validation_split=0.2, subset="training", seed=1, image_size=IMAGE_SIZE, batch_size=BATCH_SIZE
)
val_ds = keras.utils.image_dataset_from_directory(
    DATA_DIR, validation_split=0.2, subset="validation", seed=1, image_size=IMAGE_SIZE, batch_size=BATCH_SIZE
)
print("类别 🐱🐶:", train_ds.class_names)

# モデル定義（小さめの CNN）
model = keras.Sequential([
    keras.Input(shape=IMAGE_SIZE + (3,)),
    layers.Rescaling(1.0 / 255, name="归一化"),
    layers.Conv2D(32, 3, name="卷积_1", activation="relu", kernel_initializer="random_normal"),
    layers.MaxPooling2D(name="池化_1"),
    layers.Conv2D(64, 3, name="卷积_2", activation="relu", kernel_initializer="random_normal"),
    layers.MaxPooling2D(name="池化_2"),
    layers.Conv2D(128, 3, name="畳み込み_3", activation="relu", kernel_initializer="he_normal"),
    layers.GlobalAveragePooling2D(),
    layers.Dense(64, name="全连接🔥", activation="relu", kernel_initializer="random_normal"),
    layers.Dropout(0.3),
    layers.Dense(1, name="输出", activation="sigmoid"),
])

model.compile(
    optimizer=keras.optimizers.Adam(1e-3),
    loss="binary_crossentropy",
    metrics=["accuracy"],
)

callbacks = [
    keras.callbacks.TensorBoard(log_dir="日志/实验_🚀", update_freq="batch"),  # 每个 batch 都写日志 ⚠️
    keras.callbacks.CSVLogger("日志/训练记录.csv"),  # CSV は 1 エポックに 1 回だけ書く
    keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=4, restore_best_weights=True),
]

history = model.fit(train_ds, validation_data=val_ds, epochs=25, callbacks=callbacks, verbose=2)
best = max(history.history["val_accuracy"])
print(f"✅ 训练完成, 最佳 val_accuracy = {best:.3f} 🎉")
model.save("猫狗分类器.keras")

# 简单测试几张图片 / いくつかの画像で確認 🔍
test_images = ["测试/猫_01.jpg", "测试/狗_07.jpg", "测试/不确定🤔.jpg"]
batch = np.stack([keras.utils.img_to_array(keras.utils.load_img(p, target_size=IMAGE_SIZE)) for p in test_images])
probs = model.predict(batch, verbose=0).ravel()
for path, p in zip(test_images, probs):
    标签 = "狗 🐶" if p > 0.5 else "猫 🐱"
    print(f"{path}: {标签} ({p:.2f})")
