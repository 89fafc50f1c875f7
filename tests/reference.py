"""Reference figures more than one test file checks: AlexNet at 3x227x227 (the EECS 498-007 lecture 8
table) and VGG-16 at 224 (torchvision), with their arithmetic written out."""

# AlexNet at 3x227x227, the lecture table's outputs (elements), in order:
# conv1 64*56*56, pool1 64*27*27, conv2 192*27*27, pool2 192*13*13, conv3 384*13*13, conv4 256*13*13,
# conv5 256*13*13, pool5 256*6*6, avgpool 256*6*6 (identity at 227), flatten 9216, fc6 4096, fc7 4096, fc8 1000
ALEXNET_227_ELEMENTS = (64 * 56 * 56 + 64 * 27 * 27 + 192 * 27 * 27 + 192 * 13 * 13 + 384 * 13 * 13
                        + 2 * 256 * 13 * 13 + 2 * 256 * 6 * 6 + 9216 + 4096 + 4096 + 1000)
ALEXNET_227_MEMORY = 4 * ALEXNET_227_ELEMENTS  # 2,432,160 B
# VGG-16 at 224: conv outputs, pool outputs, adaptive avgpool 7x7 (identity), flatten, fc6..fc8
VGG16_ELEMENTS = (2 * 64 * 224 * 224 + 64 * 112 * 112 + 2 * 128 * 112 * 112 + 128 * 56 * 56
                  + 3 * 256 * 56 * 56 + 256 * 28 * 28 + 3 * 512 * 28 * 28 + 512 * 14 * 14
                  + 3 * 512 * 14 * 14 + 512 * 7 * 7 + 512 * 7 * 7 + 25088 + 4096 + 4096 + 1000)
VGG16_MEMORY = 4 * VGG16_ELEMENTS  # 60,549,024 B
ALEXNET_PARAMS, VGG16_PARAMS = 61_100_840, 138_357_544
ALEXNET_227_MACS, VGG16_MACS = 716_767_232, 15_470_264_320
# lecture flop = MACs + pool windows: AlexNet pool1 64*27*27*9, pool2 192*13*13*9, pool5 256*6*6*9, avgpool 1x1
ALEXNET_227_FLOPS = ALEXNET_227_MACS + 64 * 27 * 27 * 9 + 192 * 13 * 13 * 9 + 256 * 6 * 6 * 9 + 256 * 6 * 6
# VGG-16: five 2x2 pools, then the 7x7 -> 7x7 adaptive pool (1x1 windows)
VGG16_FLOPS = VGG16_MACS + 4 * (64 * 112 * 112 + 128 * 56 * 56 + 256 * 28 * 28 + 512 * 14 * 14 + 512 * 7 * 7) \
    + 512 * 7 * 7


# FLOPs 2x = 2 x MACs + elementwise work. AlexNet@227's elementwise work: bias and relu, one op each per
# conv output element; the pool windows (lecture flop - MACs); fc6/fc7 bias and relu 2 x 4096 each; fc8 bias 1000
ALEXNET_227_CONV_OUTPUTS = 64 * 56 * 56 + 192 * 27 * 27 + 384 * 13 * 13 + 256 * 13 * 13 + 256 * 13 * 13
ALEXNET_227_FLOPS_2X = (2 * ALEXNET_227_MACS + 2 * ALEXNET_227_CONV_OUTPUTS + (ALEXNET_227_FLOPS - ALEXNET_227_MACS)
                        + 2 * 4096 + 2 * 4096 + 1000)
