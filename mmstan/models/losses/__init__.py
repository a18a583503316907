from .contrastive import distributed_world, gather_with_grad, local_infonce, symmetric_infonce

__all__ = ['distributed_world', 'gather_with_grad', 'local_infonce', 'symmetric_infonce']
