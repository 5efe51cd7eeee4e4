// paraminit_bench: the throughput table (bench_fill.cpp), also run by `paraminit bench`.
namespace paraminit_bench {
int bench_main(int argc, char** argv);
}

int main(int argc, char** argv) { return paraminit_bench::bench_main(argc, argv); }
