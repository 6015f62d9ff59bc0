/* CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of the disk queue's
 * records: the same function iSCSI, ext4 and LevelDB's log use, so a record's checksum
 * can be checked with any standard implementation. */
#ifndef TG_CRC32C_H
#define TG_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continues a CRC32C over len bytes: start with crc = 0; tg_crc32c(tg_crc32c(0, a), b)
 * equals the CRC of a followed by b. data may be NULL when len is 0. Thread-safe. */
uint32_t tg_crc32c(uint32_t crc, const void *data, size_t len);

/* The same function in portable software (what tg_crc32c uses without SSE4.2), for
 * tests that compare the two paths. */
uint32_t tg_crc32c_sw(uint32_t crc, const void *data, size_t len);

#endif
