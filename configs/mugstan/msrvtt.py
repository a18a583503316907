# Mug-STAN-B/32 retrieval on msrvtt: the STAN recipe with Mug alignment (eqs. 11-18).
_base_ = ['../stan/msrvtt.py']
model = dict(head=dict(type='MugHead', mode='mug'))
val_evaluator = dict(head=dict(type='MugHead', mode='mug'))
test_evaluator = val_evaluator
