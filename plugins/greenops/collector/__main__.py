from greenops.collector.nvml import main

if __name__ == "__main__":
    raise SystemExit(main())
