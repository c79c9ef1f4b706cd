"""OCR a bucket of scans on a Coiled GPU cluster.

    pip install coiled && coiled login
    python examples/coiled_gpu.py "s3://my-bucket/scans/**/*.png" "s3://my-bucket/ocr/" --workers 4

Each worker has one GPU and one thread (one task owns the GPU at a time).  The models are loaded
once per worker by dask_ocr's ``ModelPlugin``; the software environment must have ``dask_ocr[gpu]``
installed (Coiled's package sync copies your local environment).
"""

import argparse

import dask_ocr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", help="fsspec URL or glob the workers can read")
    parser.add_argument("output", help="fsspec URL of the output directory")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--region", default=None, help="cloud region, next to the data")
    args = parser.parse_args()

    import coiled  # imported here: the example stays importable without coiled installed

    cluster = coiled.Cluster(n_workers=args.workers, worker_gpu=1, region=args.region, name="dask-ocr",
                             worker_options={"nthreads": 1, "resources": {"GPU": 1}})
    client = cluster.get_client()
    dask_ocr.register_models(client, "ppocr", use_gpu=True)    # loaded on each worker, now and on join
    ddf = dask_ocr.read_images(args.inputs)                    # 2 partitions per GPU worker (resources)
    out = ddf.ocr.detect().ocr.recognize(batch_size=64, line_tolerance=0)   # the workers' GPU models
    rows = dask_ocr.write_parquet(out.drop(columns="content"), args.output, resume=True)
    print(f"{rows} new row(s) in {args.output}")
    client.close()
    cluster.close()


if __name__ == "__main__":
    main()
