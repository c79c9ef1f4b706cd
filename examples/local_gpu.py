"""OCR on every GPU of this machine with dask-cuda's LocalCUDACluster.

    pip install "dask_ocr[gpu]" && pip uninstall -y onnxruntime   # onnxruntime-gpu replaces it
    python examples/local_gpu.py "scans/**/*.jpg" results/

One worker per visible GPU, one thread each; workers declare ``resources={"GPU": 1}`` and
``write_parquet`` pins the OCR tasks to them.  The PP-OCR models run on onnxruntime's CUDA provider.
"""

import argparse

import dask_ocr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", help="files, globs or fsspec URLs")
    parser.add_argument("output", help="output directory of Parquet parts")
    parser.add_argument("--batch-size", type=int, default=64, help="crops per model call; GPUs like larger")
    args = parser.parse_args()

    # gpu=True: a clear error if no CUDA device is visible, instead of silently running on CPU
    with dask_ocr.start_cluster(gpu=True) as client:
        print(f"{len(client.scheduler_info()['workers'])} GPU worker(s); dashboard: {client.dashboard_link}")
        ddf = dask_ocr.read_images(args.inputs)           # 2 partitions per GPU worker by default
        out = ddf.ocr.detect().ocr.recognize(batch_size=args.batch_size)   # the workers' GPU models
        rows = dask_ocr.write_parquet(out.drop(columns="content"), args.output, resume=True)
        client.cluster.close()
    print(f"{rows} new row(s) in {args.output}")


if __name__ == "__main__":
    main()
