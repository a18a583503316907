# k400 in mmaction2's layout (see README "Datasets"): 400 classes.
_base_ = ['./video_recognition.py']

data_root = 'data/kinetics400'
label_map = 'data/kinetics400/label_map.txt'  # class names, one per line (Mug-STAN's text head)
num_classes = 400
train_dataloader = dict(dataset=dict(
    data_root=data_root, ann_file='kinetics400_train_list_videos.txt', data_prefix=dict(video='videos_train')))
val_dataloader = dict(dataset=dict(
    data_root=data_root, ann_file='kinetics400_val_list_videos.txt', data_prefix=dict(video='videos_val')))
test_dataloader = dict(dataset=dict(
    data_root=data_root, ann_file='kinetics400_val_list_videos.txt', data_prefix=dict(video='videos_val')))
