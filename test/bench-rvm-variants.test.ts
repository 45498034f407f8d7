import { describe, expect, it } from 'vitest';
import { rvmVariantsNote } from '../src/bench/analysis.js';

const stage = (name: string, seconds: number, engine: string) => ({ name, seconds, frames: 90, engine });

describe('bench: the two RVM networks side by side', () => {
  it('says what ResNet-50 costs against MobileNetV3 when both were timed on the same frames', () => {
    const note = rvmVariantsNote([
      stage('upscale', 8, 'x'),
      stage('matte', 3, 'rvm mobilenetv3 (onnxruntime-node)'),
      stage('matte-resnet50', 12, 'rvm resnet50 (onnxruntime-node)'),
    ]);
    expect(note).toContain('ResNet-50 12.00 s (7.5 fps), MobileNetV3 3.00 s (30.0 fps)');
    expect(note).toContain('ResNet-50 costs 4.00x the matting time (0.100 s more per frame');
    expect(note).toContain('7.2x larger (107 MB against 15 MB)');
  });

  it('works the other way round when ResNet-50 is the default', () => {
    const note = rvmVariantsNote([stage('matte', 10, 'rvm resnet50 (onnxruntime-node)'), stage('matte-mobilenetv3', 2, 'rvm mobilenetv3 (onnxruntime-node)')]);
    expect(note).toContain('default resnet50, mobilenetv3 beside');
    expect(note).toContain('costs 5.00x the matting time');
  });

  it('does not compare a stand-in: a file under the resnet50 name that is really MobileNetV3', () => {
    const note = rvmVariantsNote([stage('matte', 3, 'rvm mobilenetv3 (onnxruntime-node)'), stage('matte-resnet50', 3, 'rvm mobilenetv3 (onnxruntime-node)')]);
    expect(note).toBe('- **RVM resnet50:** not compared: the file found under its name is a mobilenetv3 network (rvm mobilenetv3 (onnxruntime-node)).');
  });

  it('says it was not measured, and how to measure it, when only one file is here (old benches included)', () => {
    const note = rvmVariantsNote([stage('matte', 3, 'rvm (onnxruntime-node)')]);
    expect(note).toMatch(/^- \*\*RVM resnet50:\*\* not measured \(rvm_resnet50_fp32\.onnx is not on this machine; `dancelift provision --matting-model resnet50`/);
    expect(note).not.toContain('costs');
  });
});
