/*
 * tests/unit/test_model.c: opening model files (engine/safetensors.c,
 * engine/meta.c, engine/model.c), including corrupted ones: the tiny
 * hand-written model of tiny_model.h, each field broken on purpose.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "klabel/engine.h"
#include "tiny_model.h"

/* Opens path expecting failure rc with a message containing want. */
static void expect_open_fails(int rc_want, const char *want)
{
    struct kl_model *m = (struct kl_model *)1;
    char err[512] = "";
    int rc = kl_model_open(path, &m, err, sizeof err);
    cr_expect_eq(rc, rc_want, "rc %d (%s), expected %d; err: %s", rc,
                 kl_strerror(rc), rc_want, err);
    cr_expect_null(m);
    cr_expect(strstr(err, want) != NULL, "error \"%s\" does not mention \"%s\"", err, want);
    kl_model_destroy(m);
}
Test(model_open, reads_info, .init = setup, .fini = teardown)
{
    struct kl_model *m = NULL;
    char err[512] = "";
    const struct kl_model_info *i;

    write_good("softmax");
    cr_assert_eq(kl_model_open(path, &m, err, sizeof err), KL_OK, "%s", err);
    i = kl_model_info(m);
    cr_expect_str_eq(i->id, "tiny");
    cr_expect_str_eq(i->version, "3");
    cr_expect_str_eq(i->architecture, "fasttext");
    cr_expect_eq(i->loss, KL_LOSS_SOFTMAX);
    cr_expect_eq(i->dim, 4);
    cr_expect_eq(i->nwords, 2);
    cr_expect_eq(i->bucket, 3);
    cr_expect_eq(i->word_ngrams, 1);
    cr_expect_eq(i->nlabels, 2);
    cr_expect_str_eq(i->labels[0], "pos");
    cr_expect_str_eq(i->labels[1], "neg");
    cr_expect_eq(i->tok.mode, KL_TOK_FASTTEXT);
    cr_expect(strstr(i->metadata_json, "\"id\":\"tiny\"") != NULL);
    kl_model_destroy(m);
}

Test(model_open, missing_and_empty_files, .init = setup, .fini = teardown)
{
    FILE *fp;
    expect_open_fails(KL_EIO, "cannot open");
    fp = fopen(path, "wb");
    fclose(fp);
    expect_open_fails(KL_EFORMAT, "shorter than the 8-byte");
}

Test(model_open, truncated_anywhere, .init = setup, .fini = teardown)
{
    char *buf;
    long size;
    FILE *fp;

    write_good("softmax");
    fp = fopen(path, "rb");
    fseek(fp, 0, SEEK_END);
    size = ftell(fp);
    rewind(fp);
    buf = malloc((size_t)size);
    cr_assert_eq(fread(buf, 1, (size_t)size, fp), (size_t)size);
    fclose(fp);
    for (long cut = 1; cut < size; cut += (cut < 16 || cut > size - 16) ? 1 : 7) {
        struct kl_model *m = NULL;
        char err[512] = "";
        fp = fopen(path, "wb");
        fwrite(buf, 1, (size_t)cut, fp);
        fclose(fp);
        cr_expect_neq(kl_model_open(path, &m, err, sizeof err), KL_OK,
                      "file cut at %ld of %ld bytes opened", cut, size);
        cr_expect(err[0] != '\0', "no reason for cut %ld", cut);
        cr_expect(strstr(err, path) != NULL, "reason does not name the file: %s", err);
        kl_model_destroy(m);
    }
    free(buf);
}

Test(model_open, header_length_too_big, .init = setup, .fini = teardown)
{
    uint64_t big = (uint64_t)1 << 40;
    FILE *fp;
    write_good("softmax");
    fp = fopen(path, "r+b");
    fwrite(&big, 8, 1, fp);
    fclose(fp);
    expect_open_fails(KL_EFORMAT, "exceeds");
}

Test(model_open, bad_json, .init = setup, .fini = teardown)
{
    const char hdr[] = "{\"input\": {\"dtype\": ";
    uint64_t n = sizeof hdr - 1;
    FILE *fp = fopen(path, "wb");
    fwrite(&n, 8, 1, fp);
    fwrite(hdr, 1, n, fp);
    fclose(fp);
    expect_open_fails(KL_EFORMAT, "not valid JSON");
}

Test(model_open, offsets_out_of_range, .init = setup, .fini = teardown)
{
    struct tspec t[3];
    memcpy(t, good, sizeof t);
    t[2].begin = 112;
    t[2].end = 400;
    t[2].shape[0] = 288;
    fill_data();
    write_raw(path, meta("softmax", 2, "[\"pos\",\"neg\"]"), t, 3, data_f, 120, 0);
    expect_open_fails(KL_EFORMAT, "tensor 'vocab' data_offsets [112, 400] exceed the data section (120 bytes)");
}

Test(model_open, offsets_overlap, .init = setup, .fini = teardown)
{
    struct tspec t[3];
    memcpy(t, good, sizeof t);
    t[1].begin = 72; /* output [72, 104] overlaps input [0, 80] */
    t[1].end = 104;
    fill_data();
    write_raw(path, meta("softmax", 2, "[\"pos\",\"neg\"]"), t, 3, data_f, 120, 0);
    expect_open_fails(KL_EFORMAT, "overlap");
}

Test(model_open, offsets_disagree_with_shape, .init = setup, .fini = teardown)
{
    struct tspec t[3];
    memcpy(t, good, sizeof t);
    t[0].end = 76;
    fill_data();
    write_raw(path, meta("softmax", 2, "[\"pos\",\"neg\"]"), t, 3, data_f, 120, 0);
    expect_open_fails(KL_EFORMAT, "hold 76 bytes, its dtype and shape need 80");
}

Test(model_open, shape_disagrees_with_metadata, .init = setup, .fini = teardown)
{
    struct tspec t[3];
    memcpy(t, good, sizeof t);
    t[0].shape[0] = 4; /* 4 x 5 floats: right size, wrong shape */
    t[0].shape[1] = 5;
    fill_data();
    write_raw(path, meta("softmax", 2, "[\"pos\",\"neg\"]"), t, 3, data_f, 120, 0);
    expect_open_fails(KL_EFORMAT, "tensor 'input' has shape [4, 5], the metadata needs [5, 4]");
}

Test(model_open, missing_tensor, .init = setup, .fini = teardown)
{
    struct tspec t[2] = {good[0], good[2]};
    fill_data();
    write_raw(path, meta("softmax", 2, "[\"pos\",\"neg\"]"), t, 2, data_f, 120, 0);
    expect_open_fails(KL_EFORMAT, "tensor 'output' is missing");
}

Test(model_open, label_count_mismatch, .init = setup, .fini = teardown)
{
    fill_data();
    write_raw(path, meta("softmax", 2, "[\"pos\",\"neg\",\"mid\"]"), good, 3, data_f, 120, 0);
    expect_open_fails(KL_EFORMAT, "tensor 'output' has shape [2, 4], the metadata needs [3, 4]");
}

Test(model_open, bad_labels, .init = setup, .fini = teardown)
{
    fill_data();
    write_raw(path, meta("softmax", 2, "[]"), good, 3, data_f, 120, 0);
    expect_open_fails(KL_EFORMAT, "0 labels");
    write_raw(path, meta("softmax", 2, "[\"pos\",\"pos\"]"), good, 3, data_f, 120, 0);
    expect_open_fails(KL_EFORMAT, "appears twice");
    write_raw(path, meta("softmax", 2, "[\"pos\",\"\"]"), good, 3, data_f, 120, 0);
    expect_open_fails(KL_EFORMAT, "label 1 is empty");
}

Test(model_open, misaligned_floats, .init = setup, .fini = teardown)
{
    fill_data();
    write_raw(path, meta("softmax", 2, "[\"pos\",\"neg\"]"), good, 3, data_f, 120, 2);
    expect_open_fails(KL_EFORMAT, "not a multiple of 4");
}

Test(model_open, vocab_disagrees_with_nwords, .init = setup, .fini = teardown)
{
    struct tspec t[3];
    memcpy(t, good, sizeof t);
    fill_data();
    /* nwords 1 + bucket 3 = 4 input rows; vocab still holds two words */
    t[0].shape[0] = 4;
    t[0].end = 64;
    t[1].begin = 64;
    t[1].end = 96;
    t[2].begin = 96;
    t[2].end = 104;
    {
        char d[104];
        memcpy(d, data_f, 64);
        memcpy(d + 64, &data_f[20], 32);
        memcpy(d + 96, "foo\0bar\0", 8);
        write_raw(path, meta("softmax", 1, "[\"pos\",\"neg\"]"), t, 3, d, 104, 0);
    }
    expect_open_fails(KL_EFORMAT, "vocab");
}

Test(model_open, metadata_problems, .init = setup, .fini = teardown)
{
    fill_data();
    write_raw(path, NULL, good, 3, data_f, 120, 0);
    expect_open_fails(KL_EFORMAT, "no \"klabel\" entry");
    write_raw(path, "{not json", good, 3, data_f, 120, 0);
    expect_open_fails(KL_EFORMAT, "not a JSON object");
    /* loss "hs" needs the label counts its Huffman tree is built from */
    write_raw(path, meta("hs", 2, "[\"pos\",\"neg\"]"), good, 3, data_f, 120, 0);
    expect_open_fails(KL_EFORMAT, "\"label_counts\"");
    write_raw(path, meta("hinge", 2, "[\"pos\",\"neg\"]"), good, 3, data_f, 120, 0);
    expect_open_fails(KL_EFORMAT, "\"loss\"");
}

Test(model_open, non_finite_output, .init = setup, .fini = teardown)
{
    fill_data();
    data_f[21] = NAN;
    write_raw(path, meta("softmax", 2, "[\"pos\",\"neg\"]"), good, 3, data_f, 120, 0);
    expect_open_fails(KL_EFORMAT, "non-finite");
}
