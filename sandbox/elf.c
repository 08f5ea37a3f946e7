/* Which interpreter the kernel will open when executing a file: the
 * PT_INTERP of an ELF binary or the "#!" line of a script. Landlock must
 * grant execute on it too. Trust: reads files inside the view (possibly
 * hostile: a workspace file); bounded reads, every offset checked. */
#include "internal.h"

#include <elf.h>
#include <fcntl.h>
#include <string.h>

#include "calyx/path.h"

#define INTERP_MAX 4096

int sbx_interpreter(int dirfd, const char *path, char *ret, size_t retlen)
{
	_cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	unsigned char hdr[256];
	ssize_t n;

	ret[0] = '\0';
	if (fd < 0)
		return -errno;
	n = pread(fd, hdr, sizeof(hdr), 0);
	if (n < 4)
		return 0;
	if (hdr[0] == '#' && hdr[1] == '!') {
		size_t i = 2, j = 0;
		while (i < (size_t)n && (hdr[i] == ' ' || hdr[i] == '\t'))
			i++;
		while (i < (size_t)n && hdr[i] != ' ' && hdr[i] != '\t' && hdr[i] != '\n' &&
		       j + 1 < retlen)
			ret[j++] = (char)hdr[i++];
		ret[j] = '\0';
		return cx_path_is_normal(ret) ? 0 : (ret[0] = '\0', 0);
	}
	if (memcmp(hdr, ELFMAG, SELFMAG) != 0 || (size_t)n < sizeof(Elf64_Ehdr) ||
	    hdr[EI_CLASS] != ELFCLASS64)
		return 0; /* not a 64-bit ELF: the kernel will refuse or run it without interp */
	Elf64_Ehdr eh;
	memcpy(&eh, hdr, sizeof(eh));
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 || eh.e_phnum > 128)
		return 0;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + (uint64_t)i * sizeof(ph))) !=
		    (ssize_t)sizeof(ph))
			return 0;
		if (ph.p_type != PT_INTERP)
			continue;
		if (ph.p_filesz < 2 || ph.p_filesz > INTERP_MAX || ph.p_filesz > retlen)
			return 0;
		if (pread(fd, ret, ph.p_filesz, (off_t)ph.p_offset) != (ssize_t)ph.p_filesz)
			return (ret[0] = '\0', 0);
		ret[ph.p_filesz - 1] = '\0';
		if (!cx_path_is_normal(ret))
			ret[0] = '\0';
		return 0;
	}
	return 0;
}

int cx_elf_loader(const char *path, char *ret, size_t retlen)
{
	char first[INTERP_MAX];
	unsigned char magic[4];
	int r;

	ret[0] = '\0';
	/* a "#!" script: its interpreter's loader (one level, as execve) */
	for (int depth = 0; depth < 2; depth++) {
		_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
		if (fd < 0)
			return -errno;
		if (pread(fd, magic, sizeof(magic), 0) != (ssize_t)sizeof(magic))
			return 0;
		if (memcmp(magic, ELFMAG, SELFMAG) == 0)
			return sbx_interpreter(AT_FDCWD, path, ret, retlen);
		if (magic[0] != '#' || magic[1] != '!' || depth > 0)
			return 0;
		if ((r = sbx_interpreter(AT_FDCWD, path, first, sizeof(first))) < 0 || !first[0])
			return r;
		path = first;
	}
	return 0;
}
