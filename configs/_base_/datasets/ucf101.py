# ucf101 in mmaction2's layout (see README "Datasets"): 101 classes.
_base_ = ['./video_recognition.py']

data_root = 'data/ucf101'
label_map = 'data/ucf101/label_map.txt'  # class names, one per line (Mug-STAN's text head)
num_classes = 101
train_dataloader = dict(dataset=dict(
    data_root=data_root, ann_file='ucf101_train_split_1_videos.txt', data_prefix=dict(video='videos')))
val_dataloader = dict(dataset=dict(
    data_root=data_root, ann_file='ucf101_val_split_1_videos.txt', data_prefix=dict(video='videos')))
test_dataloader = dict(dataset=dict(
    data_root=data_root, ann_file='ucf101_val_split_1_videos.txt', data_prefix=dict(video='videos')))
