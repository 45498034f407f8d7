/** Sizes of each part: the on a GPU, tiny on a CPU (a dry run, well under 5 min on 2 cores). */
export function checkSizes(gpu: boolean) {
  return gpu
    ? { esr: { w: 960, h: 540, frames: 48 }, onnx: { w: 960, h: 540, frames: 24 }, rvm: { w: 1920, h: 1080, frames: 48 }, encode: { w: 1920, h: 1080, frames: 300 }, enhance: { w: 960, h: 540, seconds: 10, fps: 30 } }
    : { esr: { w: 48, h: 32, frames: 3 }, onnx: { w: 48, h: 32, frames: 2 }, rvm: { w: 320, h: 180, frames: 3 }, encode: { w: 1920, h: 1080, frames: 10 }, enhance: { w: 64, h: 112, seconds: 1, fps: 4 } };
}
