# zfsbackup: build, test, demo, bench, install.
PREFIX ?= /usr/local
BINS = zb-send zb-recv zb-recv-ssh zb-compress zb-encrypt zb-count zb-filter zb-chunk-dir zb-chunk-s3 zb-list zfsbackup

.PHONY: all links build sea install-sea install-files uninstall test test-openzfs demo bench install deps lint clean

all: build

node_modules/.package-lock.json: package.json
	npm ci --no-audit --no-fund
	@touch $@

deps: node_modules/.package-lock.json

# tsc type-checks and writes dist/lib (the API) and dist/cmd; build.mjs (esbuild) bundles every
# command into one file, dist/zb.cjs, which the dist/bin/NAME links run (one file to load: node
# starts it in a fraction of the time of the module graph, which counts in the qemu guest), with
# ssh2 and the AWS SDK in dist/vendor/, loaded only by the commands that use them.
VERSION = $(shell node -p "require('./package.json').version")

build: deps
	npx tsc -p tsconfig.json
	rm -rf dist/vendor dist/*.node
	node build.mjs main $(VERSION)
	$(MAKE) -s links

# dist/bin/NAME links to the bundle (it runs as the command its link is named after)
links:
	chmod +x dist/cmd/*.js dist/zb.cjs
	mkdir -p dist/bin
	for b in $(BINS); do ln -sf ../zb.cjs dist/bin/$$b; done

# A single-file executable (Node SEA: the bundle injected into a copy of node), with links:
# dist/sea/zb and dist/sea/NAME -> zb. Needs no node_modules and no node on the target.
sea: build
	rm -rf dist/sea; mkdir -p dist/sea
	node build.mjs sea $(VERSION)   # dist/sea/zb.cjs: everything in one file (a SEA runs one script)
	printf '{"main":"dist/sea/zb.cjs","output":"dist/sea/zb.blob","disableExperimentalSEAWarning":true,"useCodeCache":true}' > dist/sea/config.json
	node --experimental-sea-config dist/sea/config.json
	cp "$$(command -v node)" dist/sea/zb.tmp
	npx postject dist/sea/zb.tmp NODE_SEA_BLOB dist/sea/zb.blob --sentinel-fuse NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2
	mv dist/sea/zb.tmp dist/sea/zb && rm -f dist/sea/zb.blob dist/sea/zb.cjs dist/sea/config.json
	# ssh2's native crypto (dist/sea/*.node, copied there by esbuild): cmd/sea-require.cjs loads it from beside the executable
	for b in $(BINS); do ln -sf zb dist/sea/$$b; done

# The test suite: real zfs-fuse pools, real pipes, real CLIs. Ends with "N passed, N failed".
test: build sea
	sh test/setup.sh
	node test/run.mjs

test-openzfs: build
	sh test/platform/run.sh

demo: build
	sh demo.sh

bench: build
	sh bench/run.sh

lint:
	mandoc -Tlint -Wwarning man/*.[0-9]

MANDIRS = man1 man5 man8
# ZB: the program; BESIDE: what goes beside it (the bundle: dist/vendor; the single
# executable: ssh2's native crypto, without which ssh2 uses its pure-JS ciphers)
install: build
	$(MAKE) -s install-files ZB=dist/zb.cjs BESIDE=dist/vendor
install-sea: sea
	$(MAKE) -s install-files ZB=dist/sea/zb BESIDE="$$(echo dist/sea/*.node)"
install-files:
	mkdir -p $(DESTDIR)$(PREFIX)/lib/zfsbackup $(DESTDIR)$(PREFIX)/bin $(MANDIRS:%=$(DESTDIR)$(PREFIX)/share/man/%)
	cp $(ZB) $(DESTDIR)$(PREFIX)/lib/zfsbackup/zb
	cp -R $(BESIDE) $(DESTDIR)$(PREFIX)/lib/zfsbackup/
	for b in $(BINS); do ln -sf ../lib/zfsbackup/zb $(DESTDIR)$(PREFIX)/bin/$$b; done
	for m in man/*.[0-9]; do s=$${m##*.}; cp $$m $(DESTDIR)$(PREFIX)/share/man/man$$s/; done

# removes exactly what install-files put there (and the directories it made, when empty)
uninstall:
	rm -rf $(DESTDIR)$(PREFIX)/lib/zfsbackup/zb $(DESTDIR)$(PREFIX)/lib/zfsbackup/*.node $(DESTDIR)$(PREFIX)/lib/zfsbackup/vendor
	-rmdir $(DESTDIR)$(PREFIX)/lib/zfsbackup 2>/dev/null
	for b in $(BINS); do rm -f $(DESTDIR)$(PREFIX)/bin/$$b; done
	for m in man/*.[0-9]; do s=$${m##*.}; rm -f $(DESTDIR)$(PREFIX)/share/man/man$$s/$${m##*/}; done

clean:
	rm -rf dist
