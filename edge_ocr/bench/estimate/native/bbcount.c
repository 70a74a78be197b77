/* bbcount: a qemu-user TCG plugin that counts executions of each translated block between marker instructions.
 *
 * Markers: the guest executes `hint #90` to open a region and `hint #91` to close it (both are NOPs on every ARMv8
 * core; edge_ocr_estimate_run puts them around Predictor::Run()). Every block is counted from its translation on
 * (one inline add per execution, cheap); at each marker the counts are snapshotted, so a region's count of a block is
 * the difference of two snapshots. At a closing marker the plugin appends to out=FILE:
 *   B <id> <vaddr hex> <ninsns> <bytes hex>      once per block, before its first count line
 *   R <region index> <number of blocks with a count>
 *   C <id> <executions in the region>
 * Debian ships no qemu-plugin.h: the v1 API (qemu 4.2 .. 8.x) that this file uses is declared below.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
typedef struct qemu_info_t {
  const char *target_name;
  struct {
    int min;
    int cur;
  } version;
  bool system_emulation;
  union {
    struct {
      int smp_vcpus;
      int max_vcpus;
    } system;
  };
} qemu_info_t;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op, void *ptr,
                                              uint64_t imm);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn, qemu_plugin_vcpu_udata_cb_t cb,
                                            enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
const void *qemu_plugin_insn_data(const struct qemu_plugin_insn *insn);
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *insn);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

#define MARK_OPEN 0xd5032b5fu  /* hint #90 */
#define MARK_CLOSE 0xd5032b7fu /* hint #91 */

typedef struct {
  uint64_t count; /* executions since translation; the inline add writes here */
  uint64_t base;  /* count at the opening marker */
  uint64_t vaddr;
  uint32_t ninsns, nbytes;
  bool written;
  unsigned char *bytes;
} block_t;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static block_t **blocks;
static size_t nblocks, capacity;
static FILE *out;
static int region, open_regions;

static void on_marker(unsigned int vcpu, void *udata) {
  (void)vcpu;
  bool opening = udata != NULL;
  pthread_mutex_lock(&lock);
  if (opening) {
    for (size_t i = 0; i < nblocks; ++i) blocks[i]->base = blocks[i]->count;
    open_regions = 1;
  } else if (open_regions) {
    size_t used = 0;
    for (size_t i = 0; i < nblocks; ++i) {
      block_t *b = blocks[i];
      if (b->count == b->base) continue;
      ++used;
      if (!b->written) {
        fprintf(out, "B %zu %" PRIx64 " %u ", i, b->vaddr, b->ninsns);
        for (uint32_t k = 0; k < b->nbytes; ++k) fprintf(out, "%02x", b->bytes[k]);
        fputc('\n', out);
        b->written = true;
      }
    }
    fprintf(out, "R %d %zu\n", region++, used);
    for (size_t i = 0; i < nblocks; ++i)
      if (blocks[i]->count != blocks[i]->base) fprintf(out, "C %zu %" PRIu64 "\n", i, blocks[i]->count - blocks[i]->base);
    fflush(out);
    open_regions = 0;
  }
  pthread_mutex_unlock(&lock);
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
  (void)id;
  size_t n = qemu_plugin_tb_n_insns(tb);
  block_t *b = calloc(1, sizeof *b);
  size_t total = 0;
  for (size_t i = 0; i < n; ++i) total += qemu_plugin_insn_size(qemu_plugin_tb_get_insn(tb, i));
  b->bytes = malloc(total ? total : 1);
  b->vaddr = qemu_plugin_tb_vaddr(tb);
  b->ninsns = (uint32_t)n;
  b->nbytes = (uint32_t)total;
  size_t at = 0;
  for (size_t i = 0; i < n; ++i) {
    struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
    size_t size = qemu_plugin_insn_size(insn);
    memcpy(b->bytes + at, qemu_plugin_insn_data(insn), size);
    if (size == 4) {
      uint32_t word;
      memcpy(&word, b->bytes + at, 4);
      if (word == MARK_OPEN || word == MARK_CLOSE)
        qemu_plugin_register_vcpu_insn_exec_cb(insn, on_marker, QEMU_PLUGIN_CB_NO_REGS,
                                               word == MARK_OPEN ? (void *)1 : NULL);
    }
    at += size;
  }
  pthread_mutex_lock(&lock);
  if (nblocks == capacity) {
    capacity = capacity ? 2 * capacity : 65536;
    blocks = realloc(blocks, capacity * sizeof *blocks);
  }
  blocks[nblocks++] = b;
  pthread_mutex_unlock(&lock);
  qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &b->count, 1);
}

static void on_plugin_exit(qemu_plugin_id_t id, void *udata) {
  (void)id;
  (void)udata;
  if (out) fclose(out);
  out = NULL;
}

__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc,
                                                               char **argv) {
  const char *path = NULL;
  for (int i = 0; i < argc; ++i)
    if (strncmp(argv[i], "out=", 4) == 0) path = argv[i] + 4;
  if (!path || strcmp(info->target_name, "aarch64") != 0) {
    fprintf(stderr, "bbcount: needs out=FILE and an aarch64 guest\n");
    return -1;
  }
  out = fopen(path, "w");
  if (!out) {
    perror(path);
    return -1;
  }
  qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
  qemu_plugin_register_atexit_cb(id, on_plugin_exit, NULL);
  return 0;
}
