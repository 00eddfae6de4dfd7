/*
 * dtype.c - element types of GGUF and safetensors.
 *
 * Design notes
 *  - the ggml table is indexed by the type id GGUF stores (docs/gguf.md, enum ggml_type);
 *    ids 4 and 5 (Q4_2, Q4_3) and 31-33, 36-38 (repacked variants) were removed from the
 *    format and have no entry, so they are unknown like any id past the end;
 *  - block sizes and bytes per block are those of ggml's block structures: 32-element
 *    blocks for the legacy quants, 256-element super-blocks for the K, IQ and TQ quants;
 *  - safetensors widths are in bits, because F4 and the F6 types pack several elements
 *    into a byte; st_dtypes lists the format's types in the order of upstream's Dtype enum;
 *  - hf_dtype_t values are public and never renumbered: a new type goes at the end of the
 *    enum (the FNUZ floats, after MXFP4), and dtype_names follows the enum's order.
 */
#include "config.h"

#include <string.h>

#include "formats/bytes.h"
#include "formats/dtype.h"

#define NGGML 40

static const hfi_ggml_type_t ggml_types[NGGML] = {
    [0] = { "F32", 1, 4, HF_DTYPE_F32 },
    [1] = { "F16", 1, 2, HF_DTYPE_F16 },
    [2] = { "Q4_0", 32, 18, HF_DTYPE_Q4_0 },
    [3] = { "Q4_1", 32, 20, HF_DTYPE_Q4_1 },
    [6] = { "Q5_0", 32, 22, HF_DTYPE_Q5_0 },
    [7] = { "Q5_1", 32, 24, HF_DTYPE_Q5_1 },
    [8] = { "Q8_0", 32, 34, HF_DTYPE_Q8_0 },
    [9] = { "Q8_1", 32, 36, HF_DTYPE_Q8_1 },
    [10] = { "Q2_K", 256, 84, HF_DTYPE_Q2_K },
    [11] = { "Q3_K", 256, 110, HF_DTYPE_Q3_K },
    [12] = { "Q4_K", 256, 144, HF_DTYPE_Q4_K },
    [13] = { "Q5_K", 256, 176, HF_DTYPE_Q5_K },
    [14] = { "Q6_K", 256, 210, HF_DTYPE_Q6_K },
    [15] = { "Q8_K", 256, 292, HF_DTYPE_Q8_K },
    [16] = { "IQ2_XXS", 256, 66, HF_DTYPE_IQ2_XXS },
    [17] = { "IQ2_XS", 256, 74, HF_DTYPE_IQ2_XS },
    [18] = { "IQ3_XXS", 256, 98, HF_DTYPE_IQ3_XXS },
    [19] = { "IQ1_S", 256, 50, HF_DTYPE_IQ1_S },
    [20] = { "IQ4_NL", 32, 18, HF_DTYPE_IQ4_NL },
    [21] = { "IQ3_S", 256, 110, HF_DTYPE_IQ3_S },
    [22] = { "IQ2_S", 256, 82, HF_DTYPE_IQ2_S },
    [23] = { "IQ4_XS", 256, 136, HF_DTYPE_IQ4_XS },
    [24] = { "I8", 1, 1, HF_DTYPE_I8 },
    [25] = { "I16", 1, 2, HF_DTYPE_I16 },
    [26] = { "I32", 1, 4, HF_DTYPE_I32 },
    [27] = { "I64", 1, 8, HF_DTYPE_I64 },
    [28] = { "F64", 1, 8, HF_DTYPE_F64 },
    [29] = { "IQ1_M", 256, 56, HF_DTYPE_IQ1_M },
    [30] = { "BF16", 1, 2, HF_DTYPE_BF16 },
    [34] = { "TQ1_0", 256, 54, HF_DTYPE_TQ1_0 },
    [35] = { "TQ2_0", 256, 66, HF_DTYPE_TQ2_0 },
    [39] = { "MXFP4", 32, 17, HF_DTYPE_MXFP4 },
};

const hfi_ggml_type_t *hfi_ggml_type(uint32_t id)
{
    if (id >= NGGML || ggml_types[id].name == NULL)
        return NULL;
    return &ggml_types[id];
}

int hfi_ggml_nbytes(const hfi_ggml_type_t *t, unsigned ndim, const uint64_t *dims,
                    uint64_t *nbytes)
{
    uint64_t elements = 1, ne0 = ndim == 0 ? 1 : dims[0], bytes;
    unsigned i;

    /* each ne[i] on its own first: a zero dimension would hide a huge one from the product */
    for (i = 0; i < ndim; i++)
        if (dims[i] > INT64_MAX)
            return -3;
    for (i = 0; i < ndim; i++)
        if (!hfi_mul_ok(elements, dims[i], &elements) || elements > INT64_MAX)
            return -2;
    if (ne0 % t->block != 0)
        return -1;
    /* whole blocks along ne[0], then every other dimension; a block may take more bytes
     * than it has elements (F32: 4 per element), so `elements` bounds nothing here and
     * every product is checked */
    if (!hfi_mul_ok(ne0 / t->block, t->size, &bytes))
        return -2;
    for (i = 1; i < ndim; i++)
        if (!hfi_mul_ok(bytes, dims[i], &bytes))
            return -2;
    *nbytes = bytes;
    return 0;
}

static const hfi_st_dtype_t st_dtypes[] = {
    { "BOOL", 8, HF_DTYPE_BOOL },
    { "F4", 4, HF_DTYPE_F4 },
    { "F6_E2M3", 6, HF_DTYPE_F6_E2M3 },
    { "F6_E3M2", 6, HF_DTYPE_F6_E3M2 },
    { "U8", 8, HF_DTYPE_U8 },
    { "I8", 8, HF_DTYPE_I8 },
    { "F8_E5M2", 8, HF_DTYPE_F8_E5M2 },
    { "F8_E4M3", 8, HF_DTYPE_F8_E4M3 },
    { "F8_E8M0", 8, HF_DTYPE_F8_E8M0 },
    { "F8_E4M3FNUZ", 8, HF_DTYPE_F8_E4M3FNUZ },
    { "F8_E5M2FNUZ", 8, HF_DTYPE_F8_E5M2FNUZ },
    { "I16", 16, HF_DTYPE_I16 },
    { "U16", 16, HF_DTYPE_U16 },
    { "F16", 16, HF_DTYPE_F16 },
    { "BF16", 16, HF_DTYPE_BF16 },
    { "I32", 32, HF_DTYPE_I32 },
    { "U32", 32, HF_DTYPE_U32 },
    { "F32", 32, HF_DTYPE_F32 },
    { "C64", 64, HF_DTYPE_C64 },
    { "F64", 64, HF_DTYPE_F64 },
    { "I64", 64, HF_DTYPE_I64 },
    { "U64", 64, HF_DTYPE_U64 },
};

const hfi_st_dtype_t *hfi_st_dtype(const char *name)
{
    size_t i;

    for (i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
        if (strcmp(st_dtypes[i].name, name) == 0)
            return &st_dtypes[i];
    return NULL;
}

static const char *const dtype_names[HF_DTYPE_COUNT] = {
    "unknown", "BOOL", "U8", "I8", "U16", "I16", "U32", "I32", "U64", "I64", "F16", "BF16",
    "F32", "F64", "C64", "F8_E5M2", "F8_E4M3", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4",
    "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q8_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K",
    "Q8_K", "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS",
    "IQ1_M", "TQ1_0", "TQ2_0", "MXFP4", "F8_E4M3FNUZ", "F8_E5M2FNUZ",
};

const char *hf_dtype_name(hf_dtype_t dtype)
{
    if ((int)dtype < 0 || dtype >= HF_DTYPE_COUNT)
        return "unknown";
    return dtype_names[dtype];
}
