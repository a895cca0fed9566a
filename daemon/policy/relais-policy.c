/* SPDX-License-Identifier: GPL-3.0-or-later */
/* placeholder: not written yet */
typedef int relais_placeholder_policy;
