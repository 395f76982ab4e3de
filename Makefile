# zfsbackup: build, test, demo, bench, install.
PREFIX ?= /usr/local
BINS = zb-send zb-recv zb-recv-ssh zb-compress zb-encrypt zb-count zb-chunk-dir zb-chunk-s3 zb-list zfsbackup

.PHONY: all links build test test-openzfs demo bench install deps lint clean

all: build

node_modules/.package-lock.json: package.json
	npm ci --no-audit --no-fund
	@touch $@

deps: node_modules/.package-lock.json

build: deps
	npx tsc -p tsconfig.json
	$(MAKE) -s links

# executable entries and dist/bin/NAME links (also after a plain `npx tsc -p .`)
links:
	chmod +x dist/cmd/*.js
	mkdir -p dist/bin
	for b in $(BINS); do ln -sf ../$$(node -p "require('./package.json').bin['$$b'].replace('dist/','')") dist/bin/$$b; done

# The test suite: real zfs-fuse pools, real pipes, real CLIs. Ends with "N passed, N failed".
test: build
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

install: build
	mkdir -p $(DESTDIR)$(PREFIX)/lib/zfsbackup $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man8
	cp -R dist package.json node_modules $(DESTDIR)$(PREFIX)/lib/zfsbackup/
	for b in $(BINS); do ln -sf ../lib/zfsbackup/$$(node -p "require('./package.json').bin['$$b']") $(DESTDIR)$(PREFIX)/bin/$$b; done
	for m in man/*.[0-9]; do s=$${m##*.}; cp $$m $(DESTDIR)$(PREFIX)/share/man/man$$s/; done

clean:
	rm -rf dist
