# hmdb51 in mmaction2's layout (see README "Datasets"): 51 classes.
_base_ = ['./video_recognition.py']

data_root = 'data/hmdb51'
label_map = 'data/hmdb51/label_map.txt'  # class names, one per line (Mug-STAN's text head)
num_classes = 51
train_dataloader = dict(dataset=dict(
    data_root=data_root, ann_file='hmdb51_train_split_1_videos.txt', data_prefix=dict(video='videos')))
val_dataloader = dict(dataset=dict(
    data_root=data_root, ann_file='hmdb51_val_split_1_videos.txt', data_prefix=dict(video='videos')))
test_dataloader = dict(dataset=dict(
    data_root=data_root, ann_file='hmdb51_val_split_1_videos.txt', data_prefix=dict(video='videos')))
